import { LRUCache } from "lru-cache";

/**
 * The parsed inputs of recent runs. A run's input is written once, when the run
 * is created, and never changed, yet every claim of every node reads its run
 * (status, failing, workflow): reading and parsing the input each time made a
 * map whose items come from a large input quadratic in its item count (a
 * 100,000-item input parsed 100,000 times). So runs are read without their
 * input, and the input comes from here, read and parsed once.
 *
 * Bounded by the inputs' JSON length, so a few huge inputs cannot hold the
 * process's memory. The values are shared between callers, which treat records
 * as read-only (as they already must: the SQLite rows they came from are not
 * theirs to change either).
 */
const MAX_CACHED_CHARACTERS = 64 * 1024 * 1024;

export class RunInputs {
  readonly #cache = new LRUCache<string, { readonly value: unknown; readonly size: number }>({
    maxSize: MAX_CACHED_CHARACTERS,
    sizeCalculation: (entry) => entry.size,
  });

  /** The input of run `id`, from the cache or, parsed, from `read` (its JSON text). */
  get(id: string, read: () => string): unknown {
    const cached = this.#cache.get(id);
    if (cached) return cached.value;
    const text = read();
    const value = JSON.parse(text) as unknown;
    if (text.length <= MAX_CACHED_CHARACTERS) this.#cache.set(id, { value, size: Math.max(1, text.length) });
    return value;
  }
}
