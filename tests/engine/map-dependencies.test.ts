import { describe, expect, it } from "vitest";
import { MapDependencies } from "../../engine/map-dependencies.ts";
import type { ExecutionRecord } from "../../engine/store/records.ts";

const list = { nodeId: "list", output: [1, 2, 3] } as unknown as ExecutionRecord;

/** A read of the dependencies that counts how often it is called. */
function counting(records: readonly ExecutionRecord[] = [list]) {
  const reader = {
    reads: 0,
    read: async (): Promise<readonly ExecutionRecord[]> => {
      reader.reads++;
      return records;
    },
  };
  return reader;
}

describe("MapDependencies", () => {
  it("reads a map's dependencies once for all its items in a round, items claimed at once included", async () => {
    const cache = new MapDependencies();
    const reader = counting();
    const items = Array.from({ length: 50 }, () => ({ runId: "r", nodeId: "each", round: 1 }));
    const seen = await Promise.all(items.map((item) => cache.get(item, reader.read)));
    expect(reader.reads).toBe(1);
    expect(seen.every((records) => records[0] === list)).toBe(true);
  });

  it("reads again in a new round (a retry reset the dependencies), for another map, and for another run", async () => {
    const cache = new MapDependencies();
    const reader = counting();
    await cache.get({ runId: "r", nodeId: "each", round: 1 }, reader.read);
    await cache.get({ runId: "r", nodeId: "each", round: 2 }, reader.read);
    await cache.get({ runId: "r", nodeId: "other", round: 2 }, reader.read);
    await cache.get({ runId: "s", nodeId: "each", round: 2 }, reader.read);
    expect(reader.reads).toBe(4);
  });

  it("does not keep a failed read: the next item reads again", async () => {
    const cache = new MapDependencies();
    const item = { runId: "r", nodeId: "each", round: 1 };
    await expect(cache.get(item, async () => Promise.reject(new Error("store down")))).rejects.toThrow(
      "store down",
    );
    const reader = counting();
    expect(await cache.get(item, reader.read)).toEqual([list]);
    expect(reader.reads).toBe(1);
  });
});
