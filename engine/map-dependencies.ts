import { LRUCache } from "lru-cache";
import type { ExecutionRecord } from "./store/records.ts";

/**
 * The dependencies of map nodes, as their items' contexts see them, read once
 * per map and round rather than once per item. A map's dependencies had all
 * ended before the map started, and nothing changes them while it runs: only a
 * retry resets them, and a retry starts a new round, which is part of the key.
 * Read per item, a dependency whose output is the map's list made the map
 * quadratic in its item count (each of 100,000 items read and parsed all
 * 100,000). The records are shared by the items, which only read them.
 *
 * A few dozen maps run at once in a process at most; the least recently used
 * is dropped past that (and read again if its items come back).
 */
const MAPS = 64;

export class MapDependencies {
  readonly #cache = new LRUCache<string, Promise<readonly ExecutionRecord[]>>({ max: MAPS });

  /** The dependencies of the map of `item`, from `read` the first time for its map and round. */
  get(
    item: Pick<ExecutionRecord, "runId" | "nodeId" | "round">,
    read: () => Promise<readonly ExecutionRecord[]>,
  ): Promise<readonly ExecutionRecord[]> {
    const key = `${item.runId}\u0000${item.nodeId}\u0000${item.round}`;
    const cached = this.#cache.get(key);
    if (cached) return cached;
    // The promise is cached, so the items claimed together read once; a failed read is not kept.
    const reading = read();
    this.#cache.set(key, reading);
    reading.catch(() => {
      if (this.#cache.get(key) === reading) this.#cache.delete(key);
    });
    return reading;
  }
}
