import { LRUCache } from "lru-cache";

/**
 * The parsed inputs of recent runs, for both stores. A run's input is written
 * once, when the run is created, and never changed, yet every claim of every
 * node reads its run (status, failing, workflow): reading and parsing the input
 * each time made a map whose items come from a large input quadratic in its
 * item count (a 100,000-item input read and parsed 100,000 times). So a store
 * reads a run without its input when the input is here, and with it (kept here,
 * parsed) when not: one read either way.
 *
 * Bounded twice: by the inputs' JSON length, so a few huge inputs cannot hold
 * the process's memory; and by the number of runs, since the length alone let
 * small inputs pile up: a run of input `{"n":1}` counted 7 characters and held
 * a few hundred bytes (its id, the entry, the parsed object), so 64 MB of
 * characters meant millions of runs, and a long-lived process's heap grew with
 * every run it had seen (bench/memory-soak.bench.ts). The runs in hand are the
 * ones worth keeping: as many as the runner's other per-run caches keep. The
 * values are shared between callers, which treat records as read-only.
 */
const MAX_CACHED_CHARACTERS = 64 * 1024 * 1024;
export const MAX_CACHED_RUNS = 10_000;

export class RunInputs {
  readonly #cache = new LRUCache<string, { readonly value: unknown; readonly size: number }>({
    max: MAX_CACHED_RUNS,
    maxSize: MAX_CACHED_CHARACTERS,
    sizeCalculation: (entry) => entry.size,
  });

  /** The input of run `id` if it is here (wrapped: an input may be null). */
  cached(id: string): { readonly value: unknown } | undefined {
    return this.#cache.get(id);
  }

  /** Parses run `id`'s input from its stored JSON text, and keeps it. */
  parse(id: string, text: string | null | undefined): unknown {
    const stored = text ?? "null";
    const value = JSON.parse(stored) as unknown;
    if (stored.length <= MAX_CACHED_CHARACTERS)
      this.#cache.set(id, { value, size: Math.max(1, stored.length) });
    return value;
  }
}
