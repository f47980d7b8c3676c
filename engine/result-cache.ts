import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { LRUCache } from "lru-cache";
import type { Store } from "./store/store.ts";

/**
 * The result cache of nodes with `cache`: an LRU in each process in front of
 * the Store's entries, so a hot key is served from memory and a cold one from
 * the Store. Identical calls in flight at the same time are coalesced: the
 * second waits for the first instead of calling the model again.
 */
export interface CacheKeyParts {
  /** `name@version` for model nodes, `preprocess:op` or `transform`. */
  readonly target: string;
  /** The node's resolved input (or the custom key's value). */
  readonly input: unknown;
  /** Provider parameters that change the answer (a model version's params). */
  readonly params: unknown;
  /** A custom key replaces the input part; the target stays in the key. */
  readonly custom: boolean;
}

export function cacheKey(parts: CacheKeyParts): string {
  const canonical = canonicalize({
    target: parts.target,
    input: parts.input,
    params: parts.params,
    custom: parts.custom,
  });
  return createHash("sha256")
    .update(canonical ?? "null")
    .digest("hex");
}

interface Entry {
  readonly value: unknown;
  readonly expiresAt: number | null;
}

export class ResultCache {
  readonly #store: Store;
  readonly #memory = new LRUCache<string, Entry>({ max: 10_000 });
  readonly #inFlight = new Map<string, Promise<{ value: unknown; hit: boolean }>>();

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * The cached value for `key`, or what `compute` returns (then stored with
   * `ttlMs`, null: no expiry). `hit` says whether it came from the cache.
   */
  async getOrCompute(
    key: string,
    ttlMs: number | null,
    now: number,
    compute: () => Promise<unknown>,
  ): Promise<{ value: unknown; hit: boolean }> {
    const remembered = this.#memory.get(key);
    if (remembered && (remembered.expiresAt === null || remembered.expiresAt > now)) {
      return { value: remembered.value, hit: true };
    }
    const pending = this.#inFlight.get(key);
    if (pending) return pending.then(({ value }) => ({ value, hit: true }));
    const work = this.#lookupOrCompute(key, ttlMs, now, compute).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, work);
    return work;
  }

  async #lookupOrCompute(
    key: string,
    ttlMs: number | null,
    now: number,
    compute: () => Promise<unknown>,
  ): Promise<{ value: unknown; hit: boolean }> {
    const stored = await this.#store.getCached(key, now);
    if (stored !== undefined) {
      this.#memory.set(key, { value: stored, expiresAt: ttlMs === null ? null : now + ttlMs });
      return { value: stored, hit: true };
    }
    const value = await compute();
    const expiresAt = ttlMs === null ? null : now + ttlMs;
    await this.#store.putCached(key, value, expiresAt);
    this.#memory.set(key, { value, expiresAt });
    return { value, hit: false };
  }
}
