import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { executionKey } from "../../../engine/store/records.ts";
import type { Store } from "../../../engine/store/store.ts";
import {
  claim,
  createRun,
  expectUnaffected,
  HELD_UNTIL,
  NO_PROPAGATION,
  type StoreContext,
  seedEveryState,
  sorted,
  T0,
} from "./seed.ts";

/** The value of item `index` of a test map. */
function value(index: number) {
  return { listing: `listing ${index}`, rooms: index };
}

/** A run with a map node "map" (claimed, its items created, waiting on them) and a node "after" it. */
async function waitingMap(
  store: Store,
  count: number,
): Promise<{ runId: string; map: string; items: string[] }> {
  const run = await createRun(store, ["map", "after"]);
  const map = executionKey(run.id, "map");
  const token = await claim(store, map);
  await store.createItems(
    run.id,
    "map",
    Array.from({ length: count }, (_, index) => value(index)),
    T0,
  );
  expect(await store.startWaiting(map, token, { itemsTotal: count }, T0)).toBe(true);
  const items = Array.from({ length: count }, (_, index) => executionKey(run.id, "map", index));
  return { runId: run.id, map, items };
}

/** Claims an item and finishes it as succeeded; returns what finishExecution returned. */
async function finishItem(store: Store, key: string, now = T0 + 1) {
  const token = randomUUID();
  expect(await store.claimExecution(key, { token, until: HELD_UNTIL }, now)).not.toBeNull();
  return store.finishExecution(
    key,
    { status: ["running"], token },
    { status: "succeeded", output: { item: key } },
    NO_PROPAGATION,
    now,
  );
}

/** Map items: their own executions, queued in order, counted towards their map node. */
export function itemsContract(context: StoreContext): void {
  it("createItems creates a pending item per value, idempotently; getItems returns them in item order", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    // Twelve items: "#10" sorts before "#2" as text, so item order must be numeric.
    const { runId, items } = await waitingMap(store, 12);
    const listed = await store.getItems(runId, "map");
    expect(listed.map((item) => item.key)).toEqual(items);
    expect(listed.map((item) => item.item)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    listed.forEach((item, index) => {
      expect(item).toMatchObject({ runId, nodeId: "map", status: "pending", attempt: 0, depsDone: 0 });
      expect(item.input).toEqual(value(index));
    });
    // A node of the plan has no item value.
    expect((await store.getExecution(executionKey(runId, "after")))?.input ?? null).toBeNull();
    expect(await store.getExecution(items[3] ?? "")).toEqual(listed[3]);

    await store.queueNextItems(runId, "map", 1, T0);
    await finishItem(store, items[0] ?? "");
    await store.createItems(
      runId,
      "map",
      Array.from({ length: 12 }, (_, index) => value(index)),
      T0 + 5,
    );
    const again = await store.getItems(runId, "map");
    expect(again).toHaveLength(12);
    expect(again[0]).toMatchObject({ status: "succeeded", output: { item: items[0] } });
    expect(again.slice(1)).toEqual(listed.slice(1));

    // Items are not nodes of the plan.
    expect((await store.getExecutions(runId)).map((execution) => execution.nodeId).sort()).toEqual([
      "after",
      "map",
    ]);
    expect(await store.getItems(runId, "after")).toEqual([]);
    await expectUnaffected(store, seeded);
  });

  it("queueNextItems queues the lowest pending items first, up to the limit, never one twice", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const { runId, items } = await waitingMap(store, 12);

    expect(await store.queueNextItems(runId, "map", 0, T0)).toEqual([]);
    expect(await store.queueNextItems(runId, "map", 3, T0)).toEqual(items.slice(0, 3));
    expect(await store.queueNextItems(runId, "map", 8, T0)).toEqual(items.slice(3, 11));
    expect(await store.queueNextItems(runId, "map", 5, T0)).toEqual(items.slice(11));
    expect(await store.queueNextItems(runId, "map", 5, T0)).toEqual([]);
    const queued = await store.getItems(runId, "map");
    expect(queued.every((item) => item.status === "queued" && item.notBefore === T0)).toBe(true);
    await expectUnaffected(store, seeded);
  });

  it("queueNextItems called concurrently never hands out the same item twice", async () => {
    const { store } = context;
    const { runId, items } = await waitingMap(store, 12);
    const pages = await Promise.all([1, 2, 3, 4].map(() => store.queueNextItems(runId, "map", 4, T0)));
    // "Up to `limit`": a call that loses a race may queue fewer, but never an item another call queued.
    const all = pages.flat();
    for (let rest = await store.queueNextItems(runId, "map", 4, T0); rest.length > 0; ) {
      all.push(...rest);
      rest = await store.queueNextItems(runId, "map", 4, T0);
    }
    expect(new Set(all).size).toBe(all.length);
    expect(sorted(all)).toEqual(sorted(items));
    for (const page of pages) {
      expect(page.length).toBeLessThanOrEqual(4);
      const indexes = page.map((key) => Number(key.slice(key.lastIndexOf("#") + 1)));
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    }
  });

  it("queueNextItems skips items that are no longer pending", async () => {
    const { store } = context;
    const { runId, items } = await waitingMap(store, 4);
    expect(await store.queueExecutions([items[1] ?? ""], T0)).toEqual([items[1]]);
    expect(await store.queueNextItems(runId, "map", 2, T0)).toEqual([items[0], items[2]]);
    expect(await store.queueNextItems(runId, "map", 2, T0)).toEqual([items[3]]);
  });

  it("a finished item counts towards its map node, not towards the run", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const { runId, map, items } = await waitingMap(store, 3);
    await store.queueNextItems(runId, "map", 3, T0);

    expect(await finishItem(store, items[1] ?? "")).toEqual({
      ready: [],
      runComplete: false,
      items: { done: 1, total: 3 },
    });
    // A duplicate finish of an item is not counted again.
    expect(
      await store.finishExecution(
        items[1] ?? "",
        { status: ["running"] },
        { status: "succeeded" },
        NO_PROPAGATION,
        T0 + 2,
      ),
    ).toBeNull();
    expect(await finishItem(store, items[0] ?? "")).toEqual({
      ready: [],
      runComplete: false,
      items: { done: 2, total: 3 },
    });
    expect(await store.getRun(runId)).toMatchObject({ nodesDone: 0 });

    const token = randomUUID();
    await store.claimExecution(items[2] ?? "", { token, until: HELD_UNTIL }, T0 + 3);
    expect(
      await store.finishExecution(
        items[2] ?? "",
        { status: ["running"], token },
        { status: "failed", error: { code: "boom", message: "item failed" } },
        NO_PROPAGATION,
        T0 + 3,
      ),
    ).toEqual({ ready: [], runComplete: false, items: { done: 3, total: 3 } });
    expect(await store.getRun(runId)).toMatchObject({ nodesDone: 0 });
    expect((await store.getItems(runId, "map")).map((item) => item.status)).toEqual([
      "succeeded",
      "succeeded",
      "failed",
    ]);

    // The map node itself is still waiting; its items finish it, and that counts for the run.
    expect(await store.getExecution(map)).toMatchObject({ status: "running", itemsTotal: 3 });
    expect(
      await store.finishExecution(
        map,
        { status: ["running"] },
        { status: "succeeded", output: [1, 2, 3] },
        { dependents: ["after"], dependencyCounts: { after: 1 } },
        T0 + 4,
      ),
    ).toEqual({ ready: ["after"], runComplete: false, items: null });
    expect(await store.getRun(runId)).toMatchObject({ nodesDone: 1 });
    await expectUnaffected(store, seeded);
  });

  it("items of two maps, and of two runs, are counted apart", async () => {
    const { store } = context;
    const first = await waitingMap(store, 2);
    const second = await waitingMap(store, 5);
    await store.queueNextItems(first.runId, "map", 2, T0);
    await store.queueNextItems(second.runId, "map", 5, T0);
    expect((await finishItem(store, second.items[4] ?? ""))?.items).toEqual({ done: 1, total: 5 });
    expect((await finishItem(store, first.items[0] ?? ""))?.items).toEqual({ done: 1, total: 2 });
    expect((await finishItem(store, second.items[0] ?? ""))?.items).toEqual({ done: 2, total: 5 });
  });
}
