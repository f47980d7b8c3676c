import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { executionKey } from "../../../engine/store/records.ts";
import {
  BOOM,
  claim,
  createRun,
  expectUnaffected,
  HELD_UNTIL,
  NO_PROPAGATION,
  type StoreContext,
  seedEveryState,
  snapshot,
  sorted,
  T0,
} from "./seed.ts";

/** Executions: queueing, claiming, leases, rescheduling and waiting. */
export function executionsContract(context: StoreContext): void {
  it("queueExecutions moves pending → queued only, and returns the keys that moved", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["x", "y", "z"]);
    const [x, y, z] = ["x", "y", "z"].map((node) => executionKey(run.id, node)) as [string, string, string];
    const { key } = seeded;
    const now = T0 + 1_000;

    const moved = await store.queueExecutions(
      [x, y, key.queued, key.running, key.waiting, key.succeeded, key.failed, key.skipped, key.cancelled],
      now,
    );
    expect(sorted(moved)).toEqual(sorted([x, y]));
    expect(await store.getExecution(x)).toMatchObject({ status: "queued", notBefore: now, attempt: 0 });
    expect(await store.getExecution(y)).toMatchObject({ status: "queued", notBefore: now });
    expect(await store.getExecution(z)).toMatchObject({ status: "pending" });
    await expectUnaffected(store, seeded);

    // A key given twice moves once.
    const twice = await store.queueExecutions([z, z], now);
    expect(twice).toEqual([z]);
    expect(await store.queueExecutions([], now)).toEqual([]);
    // Queueing again moves nothing; an unknown key is not an error.
    expect(await store.queueExecutions([x, y, executionKey(randomUUID(), "x")], now + 1)).toEqual([]);
    expect(await store.getExecution(x)).toMatchObject({ status: "queued", notBefore: now });
    await expectUnaffected(store, seeded);
  });

  it("claimExecution moves queued → running with the lease and one more attempt; a second claim gets null", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    await store.queueExecutions([a], T0);
    const token = randomUUID();

    const claimed = await store.claimExecution(a, { token, until: T0 + 30_000 }, T0 + 10);
    expect(claimed).toMatchObject({
      key: a,
      status: "running",
      attempt: 1,
      attemptsTotal: 1,
      modelIndex: 0,
      leaseToken: token,
      leaseExpiresAt: T0 + 30_000,
    });
    expect(await store.getExecution(a)).toEqual(claimed);

    // A duplicate delivery claims nothing and changes nothing.
    expect(await store.claimExecution(a, { token: randomUUID(), until: T0 + 90_000 }, T0 + 20)).toBeNull();
    expect(await store.getExecution(a)).toEqual(claimed);

    // Nothing in another state is claimable.
    for (const state of [
      "pending",
      "running",
      "waiting",
      "succeeded",
      "failed",
      "skipped",
      "cancelled",
    ] as const) {
      expect(
        await store.claimExecution(seeded.key[state], { token: randomUUID(), until: HELD_UNTIL }, T0 + 20),
      ).toBeNull();
    }
    expect(
      await store.claimExecution(seeded.items[1], { token: randomUUID(), until: HELD_UNTIL }, T0 + 20),
    ).toBeNull();
    await expectUnaffected(store, seeded);
  });

  it("claimExecution does not claim before notBefore", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    await store.queueExecutions([a], T0 + 1_000);
    expect(await store.claimExecution(a, { token: randomUUID(), until: HELD_UNTIL }, T0 + 999)).toBeNull();
    expect(await store.getExecution(a)).toMatchObject({
      status: "queued",
      attempt: 0,
      attemptsTotal: 0,
      leaseToken: null,
    });
    expect(
      await store.claimExecution(a, { token: randomUUID(), until: HELD_UNTIL }, T0 + 1_000),
    ).toMatchObject({
      status: "running",
      attempt: 1,
    });
  });

  it("a stale lease token can neither finish, reschedule, renew nor start waiting", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a", "b"]);
    const a = executionKey(run.id, "a");
    const token = await claim(store, a, T0, T0 + 30_000);
    const before = await snapshot(store, run.id);
    const stale = randomUUID();

    expect(
      await store.finishExecution(
        a,
        { status: ["running"], token: stale },
        { status: "succeeded", output: { late: true } },
        { dependents: ["b"], dependencyCounts: { b: 1 } },
        T0 + 1,
      ),
    ).toBeNull();
    expect(await store.rescheduleExecution(a, stale, { notBefore: T0 + 5, error: BOOM }, T0 + 1)).toBe(false);
    expect(await store.renewLease(a, stale, T0 + 90_000)).toBe(false);
    expect(await store.startWaiting(a, stale, { itemsTotal: 3 }, T0 + 1)).toBe(false);
    // Another worker's token for a seeded running execution does not work here either.
    expect(await store.renewLease(a, seeded.runningToken, T0 + 90_000)).toBe(false);
    expect(await snapshot(store, run.id)).toEqual(before);

    expect(await store.renewLease(a, token, T0 + 90_000)).toBe(true);
    expect(await store.getExecution(a)).toMatchObject({
      status: "running",
      leaseToken: token,
      leaseExpiresAt: T0 + 90_000,
      attempt: 1,
    });
    await expectUnaffected(store, seeded);
  });

  it("renewLease works only on a running execution that holds the token", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    const token = await claim(store, a, T0, T0 + 30_000);
    await store.finishExecution(
      a,
      { status: ["running"], token },
      { status: "succeeded" },
      NO_PROPAGATION,
      T0 + 1,
    );
    expect(await store.renewLease(a, token, T0 + 90_000)).toBe(false);
    expect(await store.getExecution(a)).toMatchObject({ status: "succeeded" });
    await expectUnaffected(store, seeded);
  });

  it("a renewed lease is not swept at its old deadline", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    const token = await claim(store, a, T0, T0 + 30_000);
    expect(await store.renewLease(a, token, T0 + 90_000)).toBe(true);
    expect(await store.sweepExpiredLeases(T0 + 60_000, 100)).not.toContain(a);
    expect(await store.getExecution(a)).toMatchObject({ status: "running", leaseToken: token });
  });

  it("rescheduleExecution moves running → queued due at notBefore, keeping the error and the attempt", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    const token = await claim(store, a, T0);

    expect(await store.rescheduleExecution(a, token, { notBefore: T0 + 5_000, error: BOOM }, T0 + 100)).toBe(
      true,
    );
    expect(await store.getExecution(a)).toMatchObject({
      status: "queued",
      notBefore: T0 + 5_000,
      error: BOOM,
      attempt: 1,
      attemptsTotal: 1,
      modelIndex: 0,
    });
    // Rescheduled once: the same token cannot do it again, nor finish.
    expect(await store.rescheduleExecution(a, token, { notBefore: T0 + 6_000, error: BOOM }, T0 + 101)).toBe(
      false,
    );
    expect(
      await store.finishExecution(
        a,
        { status: ["running"], token },
        { status: "succeeded" },
        NO_PROPAGATION,
        T0 + 101,
      ),
    ).toBeNull();

    expect(await store.claimExecution(a, { token: randomUUID(), until: HELD_UNTIL }, T0 + 4_999)).toBeNull();
    const second = await store.claimExecution(a, { token: randomUUID(), until: HELD_UNTIL }, T0 + 5_000);
    expect(second).toMatchObject({ status: "running", attempt: 2, attemptsTotal: 2, modelIndex: 0 });
    await expectUnaffected(store, seeded);
  });

  it("rescheduleExecution to a fallback model restarts the attempts there, attemptsTotal keeps counting", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    const first = await claim(store, a, T0);
    expect(await store.rescheduleExecution(a, first, { notBefore: T0 + 10, error: BOOM }, T0 + 1)).toBe(true);
    const second = randomUUID();
    expect(await store.claimExecution(a, { token: second, until: HELD_UNTIL }, T0 + 10)).toMatchObject({
      attempt: 2,
      attemptsTotal: 2,
      modelIndex: 0,
    });

    expect(
      await store.rescheduleExecution(a, second, { notBefore: T0 + 20, error: BOOM, modelIndex: 1 }, T0 + 11),
    ).toBe(true);
    expect(await store.getExecution(a)).toMatchObject({
      status: "queued",
      attempt: 0,
      attemptsTotal: 2,
      modelIndex: 1,
      error: BOOM,
    });
    const third = randomUUID();
    expect(await store.claimExecution(a, { token: third, until: HELD_UNTIL }, T0 + 20)).toMatchObject({
      status: "running",
      attempt: 1,
      attemptsTotal: 3,
      modelIndex: 1,
      leaseToken: third,
    });

    // Without a modelIndex, the fallback stays and its attempts go on.
    expect(await store.rescheduleExecution(a, third, { notBefore: T0 + 30, error: BOOM }, T0 + 21)).toBe(
      true,
    );
    expect(await store.claimExecution(a, { token: randomUUID(), until: HELD_UNTIL }, T0 + 30)).toMatchObject({
      attempt: 2,
      attemptsTotal: 4,
      modelIndex: 1,
    });
  });

  it("startWaiting releases the lease and sets itemsTotal or childRunId; a waiting execution is not swept", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["map", "child"]);
    const map = executionKey(run.id, "map");
    const child = executionKey(run.id, "child");
    const mapToken = await claim(store, map, T0, T0 + 30_000);
    const childToken = await claim(store, child, T0, T0 + 30_000);
    const childRunId = randomUUID();

    expect(await store.startWaiting(map, mapToken, { itemsTotal: 4 }, T0 + 1)).toBe(true);
    expect(await store.startWaiting(child, childToken, { childRunId }, T0 + 1)).toBe(true);
    expect(await store.getExecution(map)).toMatchObject({
      status: "running",
      leaseToken: null,
      leaseExpiresAt: null,
      itemsTotal: 4,
      attempt: 1,
    });
    expect(await store.getExecution(child)).toMatchObject({
      status: "running",
      leaseToken: null,
      leaseExpiresAt: null,
      childRunId,
    });

    // The lease is gone: the old token holds nothing any more.
    expect(await store.renewLease(map, mapToken, T0 + 90_000)).toBe(false);
    expect(await store.startWaiting(map, mapToken, { itemsTotal: 9 }, T0 + 2)).toBe(false);
    expect(await store.claimExecution(map, { token: randomUUID(), until: HELD_UNTIL }, T0 + 2)).toBeNull();

    // Long after the old lease deadline, the waiting nodes are still waiting.
    const swept = await store.sweepExpiredLeases(T0 + 600_000, 100);
    expect(swept).not.toContain(map);
    expect(swept).not.toContain(child);
    expect(await store.getExecution(map)).toMatchObject({ status: "running", itemsTotal: 4 });
    expect(await store.getExecution(child)).toMatchObject({ status: "running", childRunId });

    // What it waits on finishes it, without a token.
    expect(
      await store.finishExecution(
        child,
        { status: ["running"] },
        { status: "succeeded", output: { child: true } },
        NO_PROPAGATION,
        T0 + 3,
      ),
    ).not.toBeNull();
    expect(await store.getExecution(child)).toMatchObject({ status: "succeeded", output: { child: true } });
    await expectUnaffected(store, seeded);
  });
}
