import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { HistoryEvent } from "../../../engine/history/events.ts";
import { executionKey } from "../../../engine/store/records.ts";
import type { Store } from "../../../engine/store/store.ts";
import {
  BOOM,
  claim,
  createRun,
  HELD_UNTIL,
  NO_PROPAGATION,
  type StoreContext,
  succeed,
  T0,
} from "./seed.ts";

/** The whole history of a run, paged. */
async function historyOf(store: Store, runId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for (;;) {
    const page = await store.listHistory(runId, { after: events.at(-1)?.seq ?? 0, limit: 50 });
    events.push(...page);
    if (page.length < 50) return events;
  }
}

function story(events: readonly HistoryEvent[]): string[] {
  return events.map((event) =>
    [event.type, event.nodeId, event.item, event.attempt].filter((part) => part !== null).join(" "),
  );
}

function expectNumberedFromOne(events: readonly HistoryEvent[]): void {
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
}

export function historyContract(context: StoreContext): void {
  it("records a run's transitions in order, numbered 1, 2, 3… with no gap", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b"]);
    await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 + 1 });
    const a = executionKey(run.id, "a");
    const token = await claim(store, a, T0 + 2);
    await store.finishExecution(
      a,
      { status: ["running"], token },
      {
        status: "succeeded",
        output: { text: "hi" },
        model: "writer@1",
        usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
        cost: { amount: 0.5, currency: "USD" },
        attempt: { request: { prompt: "hello" }, provider: "mock", retryable: false },
      },
      NO_PROPAGATION,
      T0 + 3,
    );
    await store.finishExecution(
      executionKey(run.id, "b"),
      { status: ["pending"] },
      { status: "skipped", reason: "its when condition was false" },
      NO_PROPAGATION,
      T0 + 4,
    );
    await store.transitionRun(run.id, ["running"], {
      status: "succeeded",
      output: { done: true },
      finishedAt: T0 + 5,
    });

    const events = await historyOf(store, run.id);
    expectNumberedFromOne(events);
    expect(story(events)).toEqual([
      "run.created",
      "run.running",
      "node.queued a 0",
      "node.running a 1",
      "attempt.started a 1",
      "attempt.succeeded a 1",
      "node.succeeded a 1",
      "node.skipped b 0",
      "run.succeeded",
    ]);
    expect(events.every((event) => event.runId === run.id && event.round === 1)).toBe(true);
    expect(events.map((event) => event.at)).toEqual([
      T0,
      T0 + 1,
      T0 + 2,
      T0 + 2,
      T0 + 2,
      T0 + 3,
      T0 + 3,
      T0 + 4,
      T0 + 5,
    ]);
    expect(events[0]?.data).toEqual({ workflow: "contract", version: 1 });
    expect(events[5]?.data).toEqual({
      model: "writer@1",
      provider: "mock",
      request: { prompt: "hello" },
      usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
      cost: { amount: 0.5, currency: "USD" },
      cached: false,
    });
    expect(events[6]?.data).toEqual({ output: { text: "hi" } });
    expect(events[7]?.data).toEqual({ reason: "its when condition was false" });
    expect(events[8]?.data).toEqual({ output: { done: true } });
  });

  it("records a refused transition not at all: a duplicate claim or finish adds no event", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    const token = await claim(store, a);
    expect(await store.claimExecution(a, { token: "other", until: HELD_UNTIL }, T0)).toBeNull();
    expect(await store.queueExecutions([a], T0)).toEqual([]);
    await succeed(store, a, token);
    expect(
      await store.finishExecution(
        a,
        { status: ["running"], token },
        { status: "succeeded" },
        NO_PROPAGATION,
        T0,
      ),
    ).toBeNull();
    expect(await store.transitionRun(run.id, ["running"], { status: "failed", finishedAt: T0 })).toBeNull();
    // A second createRun of the same id records no second run.created.
    await store.createRun(
      {
        id: run.id,
        workflow: { name: "contract", version: 1 },
        input: null,
        models: {},
        parent: null,
        nodesTotal: 1,
        deadline: null,
        createdAt: T0,
      },
      ["a"],
    );
    expect(story(await historyOf(store, run.id))).toEqual([
      "run.created",
      "node.queued a 0",
      "node.running a 1",
      "attempt.started a 1",
      "attempt.succeeded a 1",
      "node.succeeded a 1",
    ]);
  });

  it("records each attempt's end: a retry, a fallback, a rate-limit wait, an expired lease, a failure", async () => {
    const { store } = context;
    const run = await createRun(store, ["m"]);
    const m = executionKey(run.id, "m");
    const error = { code: "timeout", message: "too slow" };
    let token = await claim(store, m, T0);
    await store.rescheduleExecution(
      m,
      token,
      { notBefore: T0 + 1_000, error, attempt: { model: "writer@1", retryable: true } },
      T0 + 10,
    );
    token = randomUUID();
    await store.claimExecution(m, { token, until: HELD_UNTIL }, T0 + 1_000);
    await store.rescheduleExecution(
      m,
      token,
      {
        notBefore: T0 + 1_000,
        error: { code: "circuit-open", message: "open" },
        modelIndex: 1,
        fallbackModel: "backup@2",
        attempt: { model: "writer@1", retryable: true },
      },
      T0 + 1_010,
    );
    token = randomUUID();
    await store.claimExecution(m, { token, until: HELD_UNTIL }, T0 + 1_010);
    await store.deferExecution(m, token, { notBefore: T0 + 5_000, rateSlotAt: T0 + 5_000 }, T0 + 1_020);
    token = randomUUID();
    await store.claimExecution(m, { token, until: T0 + 6_000 }, T0 + 5_000);
    await store.sweepExpiredLeases(T0 + 7_000, 10);
    token = randomUUID();
    await store.claimExecution(m, { token, until: HELD_UNTIL }, T0 + 7_000);
    await store.finishExecution(
      m,
      { status: ["running"], token },
      { status: "failed", error: BOOM, attempt: { model: "backup@2", retryable: false } },
      NO_PROPAGATION,
      T0 + 8_000,
    );

    const events = await historyOf(store, run.id);
    expectNumberedFromOne(events);
    expect(events.map((event) => event.type)).toEqual([
      "run.created",
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.failed",
      "attempt.retry_scheduled",
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.circuit_open",
      "attempt.failed",
      "attempt.fallback",
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.rate_limited",
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.failed",
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.failed",
      "node.failed",
    ]);
    const byType = (type: string) => events.filter((event) => event.type === type);
    expect(byType("attempt.started").map((event) => event.attempt)).toEqual([1, 2, 3, 3, 4]);
    expect(byType("attempt.failed").map((event) => event.data.error)).toEqual([
      { code: "timeout", message: "too slow", retryable: true },
      { code: "circuit-open", message: "open", retryable: true },
      expect.objectContaining({ code: "lease-expired", retryable: true }),
      { code: "boom", message: "the node failed", retryable: false },
    ]);
    expect(byType("attempt.retry_scheduled")[0]?.data).toEqual({
      dueAt: new Date(T0 + 1_000).toISOString(),
    });
    expect(byType("attempt.fallback")[0]?.data).toEqual({ model: "backup@2", modelIndex: 1 });
    expect(byType("attempt.rate_limited")[0]?.data).toEqual({ dueAt: new Date(T0 + 5_000).toISOString() });
    expect(byType("attempt.failed")[0]?.data.model).toBe("writer@1");
    expect(byType("node.failed")[0]?.data).toEqual({ error: BOOM });
  });

  it("records a cache hit as an attempt that called nothing", async () => {
    const { store } = context;
    const run = await createRun(store, ["c"]);
    const c = executionKey(run.id, "c");
    const token = await claim(store, c);
    await store.finishExecution(
      c,
      { status: ["running"], token },
      { status: "succeeded", output: 1, cached: true },
      NO_PROPAGATION,
      T0 + 1,
    );
    const events = await historyOf(store, run.id);
    expect(events.slice(-3).map((event) => event.type)).toEqual([
      "attempt.cache_hit",
      "attempt.succeeded",
      "node.succeeded",
    ]);
    expect(events.at(-2)?.data).toMatchObject({ cached: true });
  });

  it("keeps every round: a retry starts the next, and the reset nodes' events carry it", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 });
    const a = executionKey(run.id, "a");
    const token = await claim(store, a);
    await store.finishExecution(
      a,
      { status: ["running"], token },
      { status: "failed", error: BOOM },
      NO_PROPAGATION,
      T0 + 1,
    );
    await store.transitionRun(run.id, ["running"], { status: "failed", error: BOOM, finishedAt: T0 + 2 });
    expect((await store.getRun(run.id))?.round).toBe(1);

    await store.resetExecutions(run.id, ["a"], { a: 0 }, 2);
    const retried = await store.transitionRun(run.id, ["failed"], {
      status: "running",
      startedAt: T0 + 10,
      finishedAt: null,
      error: null,
    });
    expect(retried?.round).toBe(2);
    expect((await store.getExecution(a))?.round).toBe(2);
    await succeed(store, a, await claim(store, a, T0 + 11), NO_PROPAGATION, T0 + 12);

    const events = await historyOf(store, run.id);
    expectNumberedFromOne(events);
    expect(events.map((event) => `${event.round} ${event.type}`)).toEqual([
      "1 run.created",
      "1 run.running",
      "1 node.queued",
      "1 node.running",
      "1 attempt.started",
      "1 attempt.failed",
      "1 node.failed",
      "1 run.failed",
      "2 run.retried",
      "2 run.running",
      "2 node.queued",
      "2 node.running",
      "2 attempt.started",
      "2 attempt.succeeded",
      "2 node.succeeded",
    ]);
    // Attempts count from 1 again in the new round.
    expect(events.filter((event) => event.type === "attempt.started").map((event) => event.attempt)).toEqual([
      1, 1,
    ]);
  });

  it("records map items with their index, and cancellation of what had not ended", async () => {
    const { store } = context;
    const run = await createRun(store, ["map", "after"]);
    const map = executionKey(run.id, "map");
    const token = await claim(store, map);
    await store.createItems(run.id, "map", ["x", "y", "z"], T0);
    await store.startWaiting(map, token, { itemsTotal: 3 }, T0);
    const [first] = await store.queueNextItems(run.id, "map", 2, T0 + 1);
    await succeed(
      store,
      first as string,
      await claim(store, first as string, T0 + 2),
      NO_PROPAGATION,
      T0 + 3,
    );
    await store.cancelExecutions(run.id, "cancelled", T0 + 4);

    const events = await historyOf(store, run.id);
    expectNumberedFromOne(events);
    const items = events.filter((event) => event.item !== null);
    expect(story(items)).toEqual([
      "node.queued map 0 0",
      "node.queued map 1 0",
      "node.running map 0 1",
      "attempt.started map 0 1",
      "attempt.succeeded map 0 1",
      "node.succeeded map 0 1",
      expect.stringMatching(/^node\.cancelled map [12] 0$/),
      expect.stringMatching(/^node\.cancelled map [12] 0$/),
    ]);
    const cancelled = events.filter((event) => event.type === "node.cancelled");
    expect(cancelled.map((event) => `${event.nodeId}#${event.item}`).sort()).toEqual([
      "after#null",
      "map#1",
      "map#2",
      "map#null",
    ]);
  });

  it("lists a node's events, or one item's, and pages after a sequence number", async () => {
    const { store } = context;
    const run = await createRun(store, ["map", "b"]);
    const map = executionKey(run.id, "map");
    const token = await claim(store, map);
    await store.createItems(run.id, "map", ["x", "y"], T0);
    await store.startWaiting(map, token, { itemsTotal: 2 }, T0);
    const items = await store.queueNextItems(run.id, "map", 2, T0);
    for (const item of items) await succeed(store, item, await claim(store, item));
    await succeed(store, executionKey(run.id, "b"), await claim(store, executionKey(run.id, "b")));

    const ofMap = await store.listHistory(run.id, { limit: 100, nodeId: "map" });
    expect(story(ofMap)).toEqual(["node.queued map 0", "node.running map 1", "attempt.started map 1"]);
    const ofItem = await store.listHistory(run.id, { limit: 100, nodeId: "map", item: 1 });
    expect(ofItem.map((event) => event.type)).toEqual([
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.succeeded",
      "node.succeeded",
    ]);
    expect(ofItem.every((event) => event.item === 1)).toBe(true);

    const all = await store.listHistory(run.id, { limit: 1_000 });
    const page = await store.listHistory(run.id, { after: 3, limit: 4 });
    expect(page).toEqual(all.slice(3, 7));
    expect(await store.listHistory(run.id, { after: all.length, limit: 10 })).toEqual([]);
    expect(await store.listHistory(randomUUID(), { limit: 10 })).toEqual([]);
  });

  it("numbers concurrent transitions of one run without a gap or a double", async () => {
    const { store } = context;
    const nodes = Array.from({ length: 8 }, (_, index) => `n${index}`);
    const run = await createRun(store, nodes);
    const keys = nodes.map((nodeId) => executionKey(run.id, nodeId));
    await store.queueExecutions(keys, T0);
    await Promise.all(keys.map((key) => store.claimExecution(key, { token: key, until: HELD_UNTIL }, T0)));
    await Promise.all(
      keys.map((key) =>
        store.finishExecution(
          key,
          { status: ["running"], token: key },
          { status: "succeeded" },
          NO_PROPAGATION,
          T0,
        ),
      ),
    );
    const events = await historyOf(store, run.id);
    expectNumberedFromOne(events);
    expect(events).toHaveLength(1 + 8 * 5);
    for (const nodeId of nodes) {
      expect(events.filter((event) => event.nodeId === nodeId).map((event) => event.type)).toEqual([
        "node.queued",
        "node.running",
        "attempt.started",
        "attempt.succeeded",
        "node.succeeded",
      ]);
    }
  });

  it("deletes events older than a time, in bulk, and leaves the newer ones", async () => {
    const { store } = context;
    const old = await createRun(store, ["a"], { createdAt: T0 - 100_000 });
    const young = await createRun(store, ["a"], { createdAt: T0 });
    await store.transitionRun(old.id, ["pending"], { status: "running", startedAt: T0 - 90_000 });
    await store.transitionRun(young.id, ["pending"], { status: "running", startedAt: T0 + 1 });
    expect(await store.deleteHistory(T0 - 50_000, 1_000)).toBeGreaterThanOrEqual(2);
    expect(await store.listHistory(old.id, { limit: 10 })).toEqual([]);
    expect(story(await store.listHistory(young.id, { limit: 10 }))).toEqual(["run.created", "run.running"]);
    expect(await store.deleteHistory(T0 - 50_000, 1_000)).toBe(0);
  });

  it("tells listeners in this process which run's history grew", async () => {
    const { store } = context;
    const heard: string[] = [];
    const stop = store.onHistory((runId) => heard.push(runId));
    const run = await createRun(store, ["a"]);
    await store.transitionRun(run.id, ["pending"], { status: "running", startedAt: T0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toContain(run.id);
    stop();
    heard.length = 0;
    await store.transitionRun(run.id, ["running"], { status: "cancelled", finishedAt: T0 + 1 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual([]);
  });

  it("has nothing left to number once every write has returned", async () => {
    const { store } = context;
    const run = await createRun(store, ["a"]);
    await succeed(store, executionKey(run.id, "a"), await claim(store, executionKey(run.id, "a")));
    expect(await store.repairHistory(Number.MAX_SAFE_INTEGER, 100)).toBe(0);
  });
}
