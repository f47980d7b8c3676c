import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { executionKey } from "../../../engine/store/records.ts";
import { claim, createRun, HELD_UNTIL, NO_PROPAGATION, type StoreContext, T0 } from "./seed.ts";

/** Waits, approvals and signals: the state a waiting run is, with no lease and nothing in flight. */
export function waitsContract(context: StoreContext): void {
  async function waitingNode(
    kind: "signal" | "timer" | "approval",
    options: { signal?: string | null; until?: number | null; nodes?: string[]; at?: number } = {},
  ) {
    const { store } = context;
    const run = await createRun(store, options.nodes ?? ["w"]);
    const key = executionKey(run.id, "w");
    const token = await claim(store, key);
    const wait = { kind, signal: options.signal ?? null, until: options.until ?? null };
    expect(await store.waits.startWait(key, token, wait, options.at ?? T0 + 5)).toBe(true);
    return { run, key, token };
  }

  it("startWait moves running (held) → waiting with no lease, its timer kept, and records node.waiting", async () => {
    const { store } = context;
    const run = await createRun(store, ["w"]);
    const key = executionKey(run.id, "w");
    const token = await claim(store, key);
    const wait = { kind: "signal" as const, signal: "docs", until: T0 + 60_000 };
    expect(await store.waits.startWait(key, randomUUID(), wait, T0 + 1)).toBe(false);
    expect(await store.waits.startWait(key, token, wait, T0 + 1)).toBe(true);
    expect(await store.waits.startWait(key, token, wait, T0 + 2)).toBe(false);
    expect(await store.getExecution(key)).toMatchObject({
      status: "waiting",
      leaseToken: null,
      leaseExpiresAt: T0 + 60_000,
      waitKind: "signal",
      waitSignal: "docs",
      signalId: null,
    });
    const history = await store.listHistory(run.id, { limit: 100 });
    expect(history.at(-1)).toMatchObject({
      type: "node.waiting",
      nodeId: "w",
      data: { for: "signal", signal: "docs", until: new Date(T0 + 60_000).toISOString() },
    });
    // Nothing takes it back as a lost lease, a stranded delivery, or a second claim.
    expect(await store.sweepExpiredLeases(T0 + 10 * HELD_UNTIL, 100)).not.toContain(key);
    expect(await store.findStrandedExecutions(T0 + 10 * HELD_UNTIL, T0 + 10 * HELD_UNTIL, 100)).not.toContain(
      key,
    );
    expect(await store.claimExecution(key, { token: randomUUID(), until: HELD_UNTIL }, T0 + 3)).toBeNull();
  });

  it("findOverdueWaiting finds a waiting execution once its timer has passed, and not before", async () => {
    const { store } = context;
    const timer = await waitingNode("timer", { until: T0 + 10_000 });
    const forever = await waitingNode("approval", { until: null });
    const due = (now: number) => store.findOverdueWaiting(now, 1000).then((found) => found.map((e) => e.key));
    expect(await due(T0 + 9_999)).not.toContain(timer.key);
    expect(await due(T0 + 10_001)).toContain(timer.key);
    expect(await due(T0 + 10 * HELD_UNTIL)).not.toContain(forever.key);
  });

  it("a waiting execution finishes once (a decision, a signal or its timer): the second gets null", async () => {
    const { store } = context;
    const { run, key } = await waitingNode("approval");
    const decision = { status: "succeeded" as const, output: { approved: true } };
    const first = await store.finishExecution(key, { status: ["waiting"] }, decision, NO_PROPAGATION, T0 + 9);
    expect(first).toMatchObject({ runComplete: true });
    expect(
      await store.finishExecution(key, { status: ["waiting"] }, decision, NO_PROPAGATION, T0 + 10),
    ).toBeNull();
    expect(await store.getExecution(key)).toMatchObject({ status: "succeeded", output: { approved: true } });
    const types = (await store.listHistory(run.id, { limit: 100 })).map((e) => e.type);
    expect(types.slice(-3)).toEqual(["node.waiting", "attempt.succeeded", "node.succeeded"]);
  });

  it("cancelExecutions ends waiting executions too", async () => {
    const { store } = context;
    const { run, key } = await waitingNode("timer", { until: T0 + 1_000 });
    expect(await store.cancelExecutions(run.id, "cancelled", T0 + 20)).toContain(key);
    expect(await store.getExecution(key)).toMatchObject({ status: "cancelled", leaseExpiresAt: null });
    expect((await store.findOverdueWaiting(T0 + 5_000, 1000)).map((e) => e.key)).not.toContain(key);
  });

  it("findWaitingForSignal and listWaiting find waiting executions, the longest waiting first, by page", async () => {
    const { store } = context;
    const a = await waitingNode("signal", { signal: "go" });
    const approvals = [];
    for (let i = 0; i < 3; i++) approvals.push(await waitingNode("approval", { at: T0 + 100 - i }));
    approvals.reverse();
    expect((await store.waits.findWaitingForSignal(a.run.id, "go")).map((e) => e.key)).toEqual([a.key]);
    expect(await store.waits.findWaitingForSignal(a.run.id, "other")).toEqual([]);
    const mine = new Set(approvals.map((w) => w.key));
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const listed: Awaited<ReturnType<typeof store.waits.listWaiting>> = await store.waits.listWaiting({
        kind: "approval",
        limit: 2,
        cursor,
      });
      expect(listed.items.length).toBeLessThanOrEqual(2);
      for (const item of listed.items)
        expect(item).toMatchObject({ status: "waiting", waitKind: "approval" });
      seen.push(...listed.items.map((e) => e.key).filter((key) => mine.has(key)));
      cursor = listed.next;
      if (cursor === null) break;
    }
    expect(seen).toEqual(approvals.map((w) => w.key));
  });

  it("addSignal is idempotent on its id and keeps the first data", async () => {
    const { store } = context;
    const run = await createRun(store, ["w"]);
    const id = randomUUID();
    const first = await store.waits.addSignal({
      id,
      runId: run.id,
      name: "go",
      data: { n: 1 },
      createdAt: T0,
    });
    expect(first).toMatchObject({
      created: true,
      signal: { id, state: "new", data: { n: 1 }, consumedBy: null },
    });
    const again = await store.waits.addSignal({
      id,
      runId: run.id,
      name: "go",
      data: { n: 2 },
      createdAt: T0 + 1,
    });
    expect(again).toMatchObject({ created: false, signal: { id, data: { n: 1 } } });
    expect(await store.waits.getSignal(id)).toMatchObject({ id, runId: run.id, name: "go", data: { n: 1 } });
    expect(await store.waits.getSignal(randomUUID())).toBeNull();
  });

  it("consumeSignal takes the run's oldest open signal of the name, and gives its consumer the same again", async () => {
    const { store } = context;
    const run = await createRun(store, ["w"]);
    const other = await createRun(store, ["w"]);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, id] of ids.entries())
      await store.waits.addSignal({ id, runId: run.id, name: "go", data: i, createdAt: T0 + i });
    await store.waits.addSignal({ id: randomUUID(), runId: run.id, name: "stop", data: null, createdAt: T0 });
    const [k1, k2] = [executionKey(run.id, "a"), executionKey(run.id, "b")];
    expect(await store.waits.consumeSignal(other.id, "go", executionKey(other.id, "w"), T0)).toBeNull();
    expect(await store.waits.consumeSignal(run.id, "go", k1, T0 + 10)).toMatchObject({
      id: ids[0],
      state: "consumed",
      consumedBy: k1,
      data: 0,
    });
    expect(await store.waits.consumeSignal(run.id, "go", k1, T0 + 11)).toMatchObject({ id: ids[0] });
    expect(await store.waits.consumeSignal(run.id, "go", k2, T0 + 12)).toMatchObject({
      id: ids[1],
      consumedBy: k2,
    });

    // Delivered: its consumer's next wait (a rerun) takes a new one.
    expect(await store.waits.settleSignal(ids[0] as string, "delivered", T0 + 13)).toBe(true);
    expect(await store.waits.settleSignal(ids[0] as string, "delivered", T0 + 13)).toBe(false);
    expect(await store.waits.consumeSignal(run.id, "go", k1, T0 + 14)).toMatchObject({ id: ids[2] });
    // Released: open again, for the next wait.
    expect(await store.waits.settleSignal(ids[1] as string, "released", T0 + 15)).toBe(true);
    expect(await store.waits.getSignal(ids[1] as string)).toMatchObject({ state: "kept", consumedBy: null });
    expect(await store.waits.consumeSignal(run.id, "go", executionKey(run.id, "c"), T0 + 16)).toMatchObject({
      id: ids[1],
    });
    expect(await store.waits.consumeSignal(run.id, "go", executionKey(run.id, "d"), T0 + 17)).toBeNull();
  });

  it("settleSignal keeps a new signal, and findUnsettledSignals finds new and consumed ones untouched since a time", async () => {
    const { store } = context;
    const run = await createRun(store, ["w"]);
    const [kept, fresh, taken] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [kept, fresh, taken])
      await store.waits.addSignal({ id, runId: run.id, name: id, data: null, createdAt: T0 });
    expect(await store.waits.settleSignal(kept, "kept", T0 + 1)).toBe(true);
    expect(await store.waits.settleSignal(kept, "kept", T0 + 1)).toBe(false);
    expect(await store.waits.settleSignal(fresh, "delivered", T0 + 1)).toBe(false);
    await store.waits.consumeSignal(run.id, taken, executionKey(run.id, "w"), T0 + 2);
    const unsettled = async (before: number) =>
      (await store.waits.findUnsettledSignals(before, 1000)).map((s) => s.id).filter((id) => id !== kept);
    expect((await store.waits.findUnsettledSignals(T0 + 1_000, 1000)).map((s) => s.id)).not.toContain(kept);
    expect((await unsettled(T0 + 1)).sort()).toEqual([fresh]);
    expect((await unsettled(T0 + 1_000)).sort()).toEqual([fresh, taken].sort());
  });

  it("bindSignal binds one signal to a waiting execution: a second gets the first's id", async () => {
    const { store } = context;
    const { key } = await waitingNode("signal", { signal: "go" });
    const [s1, s2] = [randomUUID(), randomUUID()];
    expect(await store.waits.bindSignal(key, s1, T0 + 6)).toBe(s1);
    expect(await store.waits.bindSignal(key, s2, T0 + 7)).toBe(s1);
    expect(await store.getExecution(key)).toMatchObject({ status: "waiting", signalId: s1 });
    const run = await createRun(store, ["x"]);
    expect(await store.waits.bindSignal(executionKey(run.id, "x"), s2, T0)).toBeNull();
  });

  it("concurrent consumers take each signal once", async () => {
    const { store } = context;
    const run = await createRun(store, ["w"]);
    for (let i = 0; i < 3; i++)
      await store.waits.addSignal({
        id: randomUUID(),
        runId: run.id,
        name: "go",
        data: i,
        createdAt: T0 + i,
      });
    const taken = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.waits.consumeSignal(run.id, "go", executionKey(run.id, `n${i}`), T0),
      ),
    );
    const ids = taken.filter((s) => s !== null).map((s) => s?.id);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
  });
}
