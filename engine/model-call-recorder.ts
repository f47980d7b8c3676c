import type { Logger } from "pino";
import { latencyBucket } from "./store/model-calls.ts";
import { CALL_LATENCY_BOUNDS_MS, type ModelCallSample } from "./store/records.ts";
import type { Store } from "./store/store.ts";

/** How a model call ended: a timeout is also an error. */
export type CallOutcome = "ok" | "error" | "timeout";

interface Pending {
  readonly model: string;
  readonly minute: number;
  calls: number;
  errors: number;
  timeouts: number;
  readonly latency: number[];
}

/**
 * Counts this process's model calls per version and minute in memory and adds
 * them to the Store's statistics every few seconds, so every process's calls
 * add up there (the health of a version is the deployment's, not a worker's)
 * at a cost of one write per version and minute per flush, not one per call.
 * A flush that fails keeps its counts for the next one, up to a bound.
 */
export class ModelCallRecorder {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #flushEveryMs: number;
  #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(store: Store, logger: Logger, flushEveryMs = 5_000) {
    this.#store = store;
    this.#logger = logger;
    this.#flushEveryMs = flushEveryMs;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.#flushEveryMs);
    this.#timer.unref();
  }

  /** Writes what is counted, and stops. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** One call to `model` (`name@version`) that started at `at` (epoch ms) and took `durationMs`. */
  record(model: string, at: number, durationMs: number, outcome: CallOutcome): void {
    const minute = at - (at % 60_000);
    const key = `${model}|${minute}`;
    let pending = this.#pending.get(key);
    if (!pending) {
      if (this.#pending.size >= MAX_PENDING) return;
      pending = {
        model,
        minute,
        calls: 0,
        errors: 0,
        timeouts: 0,
        latency: new Array<number>(CALL_LATENCY_BOUNDS_MS.length + 1).fill(0),
      };
      this.#pending.set(key, pending);
    }
    pending.calls++;
    if (outcome !== "ok") pending.errors++;
    if (outcome === "timeout") pending.timeouts++;
    (pending.latency[latencyBucket(durationMs)] as number)++;
  }

  /** Adds what is counted to the Store (one flush at a time). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushNow().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushNow(): Promise<void> {
    if (this.#pending.size === 0) return;
    const samples: ModelCallSample[] = [...this.#pending.values()];
    this.#pending = new Map();
    try {
      await this.#store.recordModelCalls(samples);
    } catch (error) {
      this.#logger.warn(
        { err: error, samples: samples.length },
        "model call statistics not written; kept for the next flush",
      );
      for (const sample of samples) {
        // Put back, merged with anything recorded meanwhile.
        const key = `${sample.model}|${sample.minute}`;
        const current = this.#pending.get(key);
        if (!current) {
          if (this.#pending.size < MAX_PENDING)
            this.#pending.set(key, { ...sample, latency: [...sample.latency] });
          continue;
        }
        current.calls += sample.calls;
        current.errors += sample.errors;
        current.timeouts += sample.timeouts;
        sample.latency.forEach((count, bucket) => {
          current.latency[bucket] = (current.latency[bucket] ?? 0) + count;
        });
      }
    }
  }
}

/** Versions × minutes held while the Store cannot be written: memory stays bounded. */
const MAX_PENDING = 10_000;
