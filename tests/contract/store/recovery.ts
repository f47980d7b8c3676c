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
  ofRuns,
  runToSuccess,
  type StoreContext,
  seedEveryState,
  snapshot,
  sorted,
  T0,
} from "./seed.ts";

/** Calls `find` with a limit of 2 until it finds nothing; each call stays within the limit. */
async function drain(find: (limit: number) => Promise<string[]>): Promise<string[]> {
  const found: string[] = [];
  for (let calls = 0; calls < 10; calls++) {
    const page = await find(2);
    expect(page.length).toBeLessThanOrEqual(2);
    if (page.length === 0) return found;
    found.push(...page);
  }
  throw new Error("still finding after 10 calls");
}

/** Rerun, the sweeper's queries, and cancellation. */
export function recoveryContract(context: StoreContext): void {
  it("findOverdueWaiting finds waiting executions past their own deadline, and no others", async () => {
    const { store } = context;
    const run = await createRun(store, ["late", "patient", "unbounded", "working"]);
    const wait = async (nodeId: string, until: number | null) => {
      const key = executionKey(run.id, nodeId);
      const token = await claim(store, key);
      expect(await store.startWaiting(key, token, { childRunId: `child-${nodeId}`, until }, T0)).toBe(true);
      return key;
    };
    const late = await wait("late", T0 + 10);
    await wait("patient", T0 + 1_000);
    await wait("unbounded", null);
    await claim(store, executionKey(run.id, "working"));
    const overdue = await store.findOverdueWaiting(T0 + 100, 10);
    expect(overdue.map((execution) => execution.key)).toEqual([late]);
    expect(overdue[0]).toMatchObject({ status: "running", leaseToken: null, childRunId: "child-late" });
    expect(await store.sweepExpiredLeases(T0 + 100, 10)).not.toContain(late);
  });

  it("resetExecutions puts the chosen nodes back to pending and keeps the others", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    // a → map → c; d alone. map is a map node with two items.
    const run = await createRun(store, ["a", "map", "c", "d"]);
    const dependencyCounts = { map: 1, c: 1 };
    await runToSuccess(store, run.id, "a", { dependents: ["map"], dependencyCounts });
    const map = executionKey(run.id, "map");
    const mapToken = await claim(store, map);
    await store.createItems(run.id, "map", ["x", "y"], T0);
    await store.startWaiting(map, mapToken, { itemsTotal: 2 }, T0);
    for (const key of await store.queueNextItems(run.id, "map", 2, T0)) {
      const token = randomUUID();
      await store.claimExecution(key, { token, until: HELD_UNTIL }, T0);
      await store.finishExecution(
        key,
        { status: ["running"], token },
        { status: "succeeded" },
        NO_PROPAGATION,
        T0,
      );
    }
    await store.finishExecution(
      map,
      { status: ["running"] },
      { status: "succeeded", output: ["x", "y"] },
      { dependents: ["c"], dependencyCounts },
      T0,
    );
    const c = executionKey(run.id, "c");
    const cToken = await claim(store, c);
    await store.rescheduleExecution(c, cToken, { notBefore: T0, error: BOOM }, T0);
    const cToken2 = randomUUID();
    await store.claimExecution(c, { token: cToken2, until: HELD_UNTIL }, T0);
    await store.finishExecution(
      c,
      { status: ["running"], token: cToken2 },
      { status: "failed", error: BOOM },
      NO_PROPAGATION,
      T0,
    );
    await runToSuccess(store, run.id, "d");
    await store.markRunFailing(run.id);
    const before = await snapshot(store, run.id);
    expect(before.run).toMatchObject({ nodesDone: 4, failing: true });

    await store.resetExecutions(run.id, ["map", "c"], { map: 1, c: 0 }, 2);

    const after = await snapshot(store, run.id);
    expect(after.run).toEqual({ ...before.run, nodesDone: 2, failing: false });
    const byNode = (nodeId: string) =>
      after.executions.find((execution) => execution.key === executionKey(run.id, nodeId));
    for (const nodeId of ["a", "d"]) {
      expect(byNode(nodeId)).toEqual(
        before.executions.find((execution) => execution.key === executionKey(run.id, nodeId)),
      );
    }
    for (const nodeId of ["map", "c"]) {
      const execution = byNode(nodeId);
      expect(execution).toMatchObject({ status: "pending", attempt: 0, error: null, leaseToken: null });
      expect(execution?.output ?? null).toBeNull();
    }
    expect(byNode("map")?.depsDone).toBe(1);
    expect(byNode("c")?.depsDone).toBe(0);
    expect(await store.getItems(run.id, "map")).toEqual([]);
    expect(after.executions.filter((execution) => execution.item !== null)).toEqual([]);

    // The rerun counts from the reset state: items from 0, dependents from the given depsDone.
    const token = await claim(store, map);
    expect(await store.getExecution(map)).toMatchObject({ attempt: 1 });
    await store.createItems(run.id, "map", ["p", "q", "r"], T0 + 10);
    await store.startWaiting(map, token, { itemsTotal: 3 }, T0 + 10);
    const [first] = await store.queueNextItems(run.id, "map", 1, T0 + 10);
    const itemToken = randomUUID();
    await store.claimExecution(first ?? "", { token: itemToken, until: HELD_UNTIL }, T0 + 10);
    expect(
      await store.finishExecution(
        first ?? "",
        { status: ["running"], token: itemToken },
        { status: "succeeded" },
        NO_PROPAGATION,
        T0 + 10,
      ),
    ).toEqual({ ready: [], runComplete: false, items: { done: 1, total: 3 } });
    expect(
      await store.finishExecution(
        map,
        { status: ["running"] },
        { status: "succeeded" },
        { dependents: ["c"], dependencyCounts },
        T0 + 11,
      ),
    ).toEqual({ ready: ["c"], runComplete: false, items: null });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 3 });
    await expectUnaffected(store, seeded);
  });

  it("sweepExpiredLeases re-queues only running executions whose lease has expired", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["expired", "late", "held", "waiting"]);
    const [expired, late, held, waiting] = ["expired", "late", "held", "waiting"].map((node) =>
      executionKey(run.id, node),
    ) as [string, string, string, string];
    const expiredToken = await claim(store, expired, T0, T0 + 10_000);
    await claim(store, late, T0, T0 + 50_000);
    const heldToken = await claim(store, held, T0, T0 + 500_000);
    const waitingToken = await claim(store, waiting, T0, T0 + 10_000);
    await store.startWaiting(waiting, waitingToken, { itemsTotal: 0 }, T0);
    const now = T0 + 60_000;

    expect(ofRuns(await store.sweepExpiredLeases(now, 100), [run.id, seeded.runId])).toEqual(
      sorted([expired, late]),
    );
    const swept = await store.getExecution(expired);
    expect(swept).toMatchObject({ status: "queued", attempt: 1, attemptsTotal: 1, leasesLost: 1 });
    expect(await store.getExecution(held)).toMatchObject({ leasesLost: 0 });
    expect(swept?.notBefore).toBeLessThanOrEqual(now);
    expect(await store.getExecution(held)).toMatchObject({ status: "running", leaseToken: heldToken });
    expect(await store.getExecution(waiting)).toMatchObject({ status: "running", leaseToken: null });
    expect(await store.sweepExpiredLeases(now, 100)).toEqual([]);
    await expectUnaffected(store, seeded);

    // The worker that lost its lease is fenced off, before and after someone else claims it.
    const fenced = { status: ["running"] as const, token: expiredToken };
    expect(
      await store.finishExecution(expired, fenced, { status: "succeeded" }, NO_PROPAGATION, now),
    ).toBeNull();
    const newToken = randomUUID();
    expect(await store.claimExecution(expired, { token: newToken, until: now + 30_000 }, now)).toMatchObject({
      attempt: 2,
      attemptsTotal: 2,
      leaseToken: newToken,
    });
    expect(
      await store.finishExecution(expired, fenced, { status: "succeeded" }, NO_PROPAGATION, now),
    ).toBeNull();
    expect(await store.rescheduleExecution(expired, expiredToken, { notBefore: now, error: BOOM }, now)).toBe(
      false,
    );
    expect(await store.renewLease(expired, expiredToken, now + 90_000)).toBe(false);
    expect(await store.getExecution(expired)).toMatchObject({ status: "running", leaseToken: newToken });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 0 });
  });

  it("lost leases count up with each expiry, and a rerun starts them from 0 again", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    for (let lost = 1; lost <= 2; lost++) {
      await claim(store, a, T0 + lost * 100, T0 + lost * 100 + 1);
      expect(await store.sweepExpiredLeases(T0 + lost * 100 + 50, 100)).toContain(a);
      expect(await store.getExecution(a)).toMatchObject({ status: "queued", leasesLost: lost });
    }
    const token = await claim(store, a, T0 + 1_000);
    await store.finishExecution(
      a,
      { status: ["running"], token },
      { status: "failed", error: BOOM },
      NO_PROPAGATION,
      T0 + 1_000,
    );
    await store.resetExecutions(run.id, ["a"], {}, 2);
    expect(await store.getExecution(a)).toMatchObject({ status: "pending", leasesLost: 0, attemptsTotal: 0 });
  });

  it("sweepExpiredLeases respects its limit", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b", "c"]);
    for (const node of ["a", "b", "c"]) await claim(store, executionKey(run.id, node), T0, T0 + 1_000);
    const swept = await drain((limit) => store.sweepExpiredLeases(T0 + 2_000, limit));
    expect(sorted(swept)).toEqual(sorted(["a", "b", "c"].map((node) => executionKey(run.id, node))));
  });

  it("findStrandedExecutions finds queued, due executions untouched since `before`, and marks them touched", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["stale", "recent", "later", "running", "pending"]);
    const key = (node: string) => executionKey(run.id, node);
    await store.queueExecutions([key("stale")], T0);
    await store.queueExecutions([key("recent")], T0 + 50_000);
    const token = await claim(store, key("later"), T0);
    await store.rescheduleExecution(key("later"), token, { notBefore: T0 + 500_000, error: BOOM }, T0);
    await claim(store, key("running"), T0);
    const mine = [run.id, seeded.runId];
    const now = T0 + 60_000;

    // The seeded queued node and queued item were queued at T0 too.
    const stranded = ofRuns(await store.findStrandedExecutions(now, T0 + 30_000, 100), mine);
    expect(stranded).toEqual(sorted([key("stale"), seeded.key.queued, seeded.items[0]]));
    // Just handed back: not again until a full grace period has passed.
    expect(await store.findStrandedExecutions(now, T0 + 30_000, 100)).toEqual([]);
    // Touched at `now`, they are not stranded as of `now`; "recent", last touched at T0 + 50s, is.
    expect(ofRuns(await store.findStrandedExecutions(now + 1, now, 100), mine)).toEqual([key("recent")]);

    // A grace period later, every queued one is stranded again; the one rescheduled into the future is not due.
    const later = ofRuns(await store.findStrandedExecutions(now + 100_000, now + 2, 100), mine);
    expect(later).toEqual(sorted([key("stale"), key("recent"), seeded.key.queued, seeded.items[0]]));
    expect(await store.getExecution(key("stale"))).toMatchObject({ status: "queued" });
    expect(await store.getExecution(key("running"))).toMatchObject({ status: "running" });
    expect(await store.getExecution(key("pending"))).toMatchObject({ status: "pending" });

    // Still claimable.
    expect(
      await store.claimExecution(key("stale"), { token: randomUUID(), until: HELD_UNTIL }, now + 100_000),
    ).toMatchObject({ status: "running" });
  });

  it("oldestDueQueued is the earliest notBefore of the queued executions due now; a swept lease waits from the sweep", async () => {
    const { store } = context;
    const run = await createRun(store, ["early", "late", "future", "running", "pending"]);
    const key = (node: string) => executionKey(run.id, node);
    const mine = (now: number) => store.oldestDueQueued(now);
    expect(await mine(T0 + 10_000)).toBeNull();
    await store.queueExecutions([key("early")], T0 + 100);
    await store.queueExecutions([key("late")], T0 + 200);
    const token = await claim(store, key("future"), T0);
    await store.rescheduleExecution(key("future"), token, { notBefore: T0 + 50, error: BOOM }, T0);
    // "future" is due at T0 + 50 (rescheduled), so it is the oldest once due.
    expect(await mine(T0 + 40)).toBeNull();
    expect(await mine(T0 + 150)).toBe(T0 + 50);
    await claim(store, key("future"), T0 + 150);
    expect(await mine(T0 + 250)).toBe(T0 + 100);
    // A lease that expires puts its execution back in the queue, waiting from then.
    await claim(store, key("running"), T0 + 300, T0 + 301);
    await claim(store, key("early"), T0 + 300);
    await claim(store, key("late"), T0 + 300);
    await store.sweepExpiredLeases(T0 + 400, 100);
    expect(await mine(T0 + 500)).toBe(T0 + 400);
  });

  it("sweepExpiredLeases with a later expiredBefore takes back leases still held (recovery), due now", async () => {
    const { store } = context;
    const run = await createRun(store, ["held"]);
    const held = executionKey(run.id, "held");
    await claim(store, held, T0, T0 + 60_000);
    expect(await store.sweepExpiredLeases(T0 + 10, 100)).toEqual([]);
    expect(await store.sweepExpiredLeases(T0 + 10, 100, Number.MAX_SAFE_INTEGER)).toEqual([held]);
    expect(await store.getExecution(held)).toMatchObject({
      status: "queued",
      notBefore: T0 + 10,
      leasesLost: 1,
    });
  });

  it("findStrandedExecutions respects its limit", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b", "c"]);
    const keys = ["a", "b", "c"].map((node) => executionKey(run.id, node));
    await store.queueExecutions(keys, T0);
    const found = await drain((limit) => store.findStrandedExecutions(T0 + 10, T0 + 5, limit));
    expect(sorted(found)).toEqual(sorted(keys));
  });

  it("cancelExecutions ends every non-terminal execution of that run only", async () => {
    const { store } = context;
    const bystander = await seedEveryState(store);
    const target = await seedEveryState(store);
    const now = T0 + 1_000;

    const cancelled = await store.cancelExecutions(target.runId, "cancelled", now);
    const { key, items } = target;
    expect(sorted(cancelled)).toEqual(
      sorted([key.pending, key.queued, key.running, key.waiting, items[0], items[1]]),
    );

    const after = await snapshot(store, target.runId);
    for (const execution of after.executions) {
      const old = target.before.executions.find((candidate) => candidate.key === execution.key);
      if (cancelled.includes(execution.key)) {
        expect(execution.status).toBe("cancelled");
      } else {
        expect(execution).toEqual(old);
      }
    }
    expect(after.run).toEqual({ ...target.before.run, nodesDone: 8 });

    // The worker that held the running one is fenced off.
    expect(
      await store.finishExecution(
        key.running,
        { status: ["running"], token: target.runningToken },
        { status: "succeeded" },
        NO_PROPAGATION,
        now,
      ),
    ).toBeNull();
    expect(await store.renewLease(key.running, target.runningToken, HELD_UNTIL + 1)).toBe(false);
    // Nothing left to cancel.
    expect(await store.cancelExecutions(target.runId, "cancelled", now)).toEqual([]);
    await expectUnaffected(store, bystander);
  });

  it("cancelExecutions may skip instead", async () => {
    const { store } = context;
    const bystander = await seedEveryState(store);
    const run = await createRun(store, ["a", "b", "c"]);
    await runToSuccess(store, run.id, "a");
    await store.queueExecutions([executionKey(run.id, "b")], T0);
    const skipped = await store.cancelExecutions(run.id, "skipped", T0 + 1);
    expect(sorted(skipped)).toEqual(sorted([executionKey(run.id, "b"), executionKey(run.id, "c")]));
    const status = Object.fromEntries(
      (await store.getExecutions(run.id)).map((execution) => [execution.nodeId, execution.status]),
    );
    expect(status).toEqual({ a: "succeeded", b: "skipped", c: "skipped" });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 3 });
    await expectUnaffected(store, bystander);
  });
}
