import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { TokenUsage } from "../../../engine/providers/provider.ts";
import { executionKey } from "../../../engine/store/records.ts";
import {
  BOOM,
  claim,
  createRun,
  expectUnaffected,
  NO_PROPAGATION,
  runToSuccess,
  type StoreContext,
  seedEveryState,
  snapshot,
  sorted,
  T0,
} from "./seed.ts";

function usage(inputTokens: number, outputTokens: number): TokenUsage {
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/** finishExecution: the conditional end of an execution, and its propagation to dependents and the run. */
export function finishContract(context: StoreContext): void {
  it("a finish that returned leaves nothing unpropagated, and resuming its propagation counts nothing twice", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b"]);
    const propagation = { dependents: ["b"], dependencyCounts: { b: 1 } };
    expect((await runToSuccess(store, run.id, "a", propagation)).ready).toEqual(["b"]);
    // An adapter may clear its marks just after the finish returns: allow it a moment.
    const deadline = Date.now() + 5_000;
    const mine = async () =>
      (await store.findUnpropagated(T0 + 3_600_000, 1000)).filter((e) => e.runId === run.id);
    while ((await mine()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await mine()).toEqual([]);
    expect(await store.resumePropagation(executionKey(run.id, "a"), propagation)).toEqual([]);
    expect(await store.getExecution(executionKey(run.id, "b"))).toMatchObject({
      depsDone: 1,
      status: "pending",
    });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 1 });
  });

  it("a finish with a cost records it on the execution and adds it to the run, by currency", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b", "c", "d"]);
    const costs = [
      { amount: 0.25, currency: "USD" },
      { amount: 0.5, currency: "USD" },
      { amount: 2, currency: "EUR" },
    ];
    for (const [index, nodeId] of ["a", "b", "c"].entries()) {
      const key = executionKey(run.id, nodeId);
      const token = await claim(store, key);
      await store.finishExecution(
        key,
        { status: ["running"], token },
        { status: "succeeded", cost: costs[index] },
        NO_PROPAGATION,
        T0 + 1,
      );
    }
    expect((await store.getExecution(executionKey(run.id, "a")))?.cost).toEqual({
      amount: 0.25,
      currency: "USD",
    });
    expect((await store.getExecution(executionKey(run.id, "d")))?.cost).toBeNull();
    expect((await store.getRun(run.id))?.cost).toEqual({ USD: 0.75, EUR: 2 });
    expect((await createRun(store, ["x"])).cost).toEqual({});
  });

  it("a finish with failsRun marks the run failing in the same transition; a refused one does not", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b"]);
    const a = executionKey(run.id, "a");
    await claim(store, a);
    const stale = await store.finishExecution(
      a,
      { status: ["running"], token: "not-the-holder" },
      { status: "failed", error: BOOM, failsRun: true },
      NO_PROPAGATION,
      T0 + 1,
    );
    expect(stale).toBeNull();
    expect((await store.getRun(run.id))?.failing).toBe(false);
    const b = executionKey(run.id, "b");
    const token = await claim(store, b);
    await store.finishExecution(
      b,
      { status: ["running"], token },
      { status: "failed", error: BOOM, failsRun: true },
      NO_PROPAGATION,
      T0 + 1,
    );
    expect((await store.getRun(run.id))?.failing).toBe(true);
  });

  it("finishExecution records the outcome: output, error, cached, model, usage", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["ok", "bad"]);
    const ok = executionKey(run.id, "ok");
    const bad = executionKey(run.id, "bad");
    const okToken = await claim(store, ok);
    const badToken = await claim(store, bad);

    const result = await store.finishExecution(
      ok,
      { status: ["running"], token: okToken },
      {
        status: "succeeded",
        output: { text: "A bright flat" },
        cached: true,
        model: "writer@1",
        usage: usage(12, 30),
      },
      NO_PROPAGATION,
      T0 + 100,
    );
    expect(result).toEqual({ ready: [], runComplete: false, items: null });
    expect(await store.getExecution(ok)).toMatchObject({
      status: "succeeded",
      output: { text: "A bright flat" },
      error: null,
      cached: true,
      model: "writer@1",
      usage: usage(12, 30),
      finishedAt: T0 + 100,
    });

    expect(
      await store.finishExecution(
        bad,
        { status: ["running"], token: badToken },
        { status: "failed", error: BOOM, model: "writer@2" },
        NO_PROPAGATION,
        T0 + 200,
      ),
    ).toEqual({ ready: [], runComplete: true, items: null });
    expect(await store.getExecution(bad)).toMatchObject({
      status: "failed",
      error: BOOM,
      cached: false,
      model: "writer@2",
      finishedAt: T0 + 200,
    });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 2, nodesTotal: 2 });
    await expectUnaffected(store, seeded);
  });

  it("finishExecution happens only from an expected status, and with the token when one is given", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a", "b", "c"]);
    const [a, b] = [executionKey(run.id, "a"), executionKey(run.id, "b")];
    const token = await claim(store, b);
    const before = await snapshot(store, run.id);
    const propagation = { dependents: ["c"], dependencyCounts: { c: 2 } };

    // a is pending, not running.
    expect(
      await store.finishExecution(a, { status: ["running"] }, { status: "succeeded" }, propagation, T0),
    ).toBeNull();
    // b is running, but held by another token.
    expect(
      await store.finishExecution(
        b,
        { status: ["running"], token: randomUUID() },
        { status: "succeeded" },
        propagation,
        T0,
      ),
    ).toBeNull();
    // b is running, not queued.
    expect(
      await store.finishExecution(b, { status: ["queued"], token }, { status: "cancelled" }, propagation, T0),
    ).toBeNull();
    expect(await snapshot(store, run.id)).toEqual(before);

    // Without a token, the status alone decides (a waiting node is finished so).
    expect(
      await store.finishExecution(
        b,
        { status: ["queued", "running"] },
        { status: "succeeded" },
        propagation,
        T0,
      ),
    ).toEqual({ ready: [], runComplete: false, items: null });
    // A pending one may be skipped.
    expect(
      await store.finishExecution(a, { status: ["pending"] }, { status: "skipped" }, propagation, T0),
    ).toEqual({ ready: ["c"], runComplete: false, items: null });
    expect(await store.getExecution(a)).toMatchObject({ status: "skipped" });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 2 });
    await expectUnaffected(store, seeded);
  });

  it("a duplicate finish returns null and counts nothing twice", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a", "b", "c"]);
    const a = executionKey(run.id, "a");
    const token = await claim(store, a);
    const propagation = { dependents: ["b", "c"], dependencyCounts: { b: 2, c: 1 } };

    const first = await store.finishExecution(
      a,
      { status: ["running"], token },
      { status: "succeeded", output: 1, usage: usage(5, 5) },
      propagation,
      T0 + 1,
    );
    expect(sorted(first?.ready ?? [])).toEqual(["c"]);
    const after = await snapshot(store, run.id);

    expect(
      await store.finishExecution(
        a,
        { status: ["running"], token },
        { status: "failed", error: BOOM, usage: usage(5, 5) },
        propagation,
        T0 + 2,
      ),
    ).toBeNull();
    expect(
      await store.finishExecution(
        a,
        { status: ["running"] },
        { status: "failed", error: BOOM, usage: usage(5, 5) },
        propagation,
        T0 + 2,
      ),
    ).toBeNull();
    expect(await snapshot(store, run.id)).toEqual(after);
    expect(after.run).toMatchObject({ nodesDone: 1, usage: usage(5, 5) });
    const depsDone = Object.fromEntries(
      after.executions.map((execution) => [execution.nodeId, execution.depsDone]),
    );
    expect(depsDone).toEqual({ a: 0, b: 1, c: 1 });
    expect(await store.getExecution(a)).toMatchObject({ status: "succeeded", output: 1, error: null });
    await expectUnaffected(store, seeded);
  });

  it("dependents become ready exactly when their last dependency finishes; the run completes with its last node", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    // a → b, a → c, (b, c) → d
    const run = await createRun(store, ["a", "b", "c", "d"]);
    const dependencyCounts = { b: 1, c: 1, d: 2 };

    const afterA = await runToSuccess(store, run.id, "a", { dependents: ["b", "c"], dependencyCounts });
    expect(sorted(afterA.ready)).toEqual(["b", "c"]);
    expect(afterA.runComplete).toBe(false);
    expect(afterA.items).toBeNull();

    const afterB = await runToSuccess(store, run.id, "b", { dependents: ["d"], dependencyCounts });
    expect(afterB).toEqual({ ready: [], runComplete: false, items: null });
    expect(await store.getExecution(executionKey(run.id, "d"))).toMatchObject({
      status: "pending",
      depsDone: 1,
    });

    const afterC = await runToSuccess(store, run.id, "c", { dependents: ["d"], dependencyCounts });
    expect(afterC).toEqual({ ready: ["d"], runComplete: false, items: null });
    expect(await store.getExecution(executionKey(run.id, "d"))).toMatchObject({
      status: "pending",
      depsDone: 2,
    });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 3, nodesTotal: 4 });

    const afterD = await runToSuccess(store, run.id, "d", { dependents: [], dependencyCounts });
    expect(afterD).toEqual({ ready: [], runComplete: true, items: null });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 4, nodesTotal: 4 });
    await expectUnaffected(store, seeded);
  });

  it("a dependent that is no longer pending is not returned as ready", async () => {
    const { store } = context;
    const run = await createRun(store, ["x", "y", "z"]);
    const y = executionKey(run.id, "y");
    const z = executionKey(run.id, "z");
    // y was skipped already (say, its condition was false); z was queued by an earlier decision.
    expect(
      await store.finishExecution(y, { status: ["pending"] }, { status: "skipped" }, NO_PROPAGATION, T0),
    ).not.toBeNull();
    await store.queueExecutions([z], T0);

    const result = await runToSuccess(store, run.id, "x", {
      dependents: ["y", "z"],
      dependencyCounts: { y: 1, z: 1 },
    });
    expect(result).toEqual({ ready: [], runComplete: false, items: null });
    expect(await store.getExecution(y)).toMatchObject({ status: "skipped" });
    expect(await store.getExecution(z)).toMatchObject({ status: "queued" });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 2 });
  });

  it("usage adds up on the run, and only on that run", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a", "b", "c"]);
    const other = await createRun(store, ["a"]);
    const finish = async (nodeId: string, tokens: TokenUsage | null) => {
      const key = executionKey(run.id, nodeId);
      const token = await claim(store, key);
      await store.finishExecution(
        key,
        { status: ["running"], token },
        { status: "succeeded", usage: tokens },
        NO_PROPAGATION,
        T0 + 1,
      );
    };
    await finish("a", usage(100, 20));
    await finish("b", null);
    await finish("c", usage(7, 3));
    expect((await store.getRun(run.id))?.usage).toEqual(usage(107, 23));
    expect(await store.getRun(other.id)).toEqual(other);
    await expectUnaffected(store, seeded);
  });

  it("the run's usage is the sum of its executions' usage, totalTokens included", async () => {
    const { store } = context;
    // A provider may report a total that is not input + output (OpenAI's total_tokens is taken as
    // reported); the run's usage must add up what its executions recorded, not recompute it.
    const run = await createRun(store, ["a", "b"]);
    const reported = [
      { inputTokens: 10, outputTokens: 5, totalTokens: 20 },
      { inputTokens: 1, outputTokens: 2, totalTokens: 4 },
    ];
    for (const [index, nodeId] of ["a", "b"].entries()) {
      const key = executionKey(run.id, nodeId);
      const token = await claim(store, key);
      await store.finishExecution(
        key,
        { status: ["running"], token },
        { status: "succeeded", usage: reported[index] },
        NO_PROPAGATION,
        T0 + 1,
      );
    }
    const recorded = await store.getExecutions(run.id);
    expect(recorded.map((execution) => execution.usage?.totalTokens).sort()).toEqual([20, 4].sort());
    expect((await store.getRun(run.id))?.usage).toEqual({
      inputTokens: 11,
      outputTokens: 7,
      totalTokens: 24,
    });
  });

  it("finishing one run's node leaves other runs' executions and counts alone", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    // Same node ids in two runs: propagation must stay inside the run.
    const run = await createRun(store, ["a", "b"]);
    const twin = await createRun(store, ["a", "b"]);
    const twinBefore = await snapshot(store, twin.id);
    const result = await runToSuccess(store, run.id, "a", { dependents: ["b"], dependencyCounts: { b: 1 } });
    expect(result.ready).toEqual(["b"]);
    expect(await snapshot(store, twin.id)).toEqual(twinBefore);
    await expectUnaffected(store, seeded);
  });
}
