import type { CircuitBreakerSettings } from "../../compiler/index.ts";

export type CircuitState = "closed" | "open" | "half-open";

/** How a call ended, for the breaker: `ignored` when it says nothing of the model (a cancelled run). */
export type CallVerdict = "ok" | "failed" | "ignored";

/** Buckets of the sliding window: the window slides in steps of a tenth of it. */
const BUCKETS = 10;

/**
 * One model version's circuit breaker in one process. Closed, it counts the
 * calls of a sliding window (ten buckets, no allocation per call) and opens
 * once at least `minCalls` are in it and `failureRatio` of them failed. Open,
 * it lets no call through until `openFor` has passed; then, half-open, it lets
 * one probe through: the probe's success closes it (with an empty window), its
 * failure opens it again. The clock is the caller's, so it is tested without
 * waiting.
 */
export class CircuitBreaker {
  readonly #settings: CircuitBreakerSettings;
  readonly #bucketMs: number;
  readonly #calls = new Array<number>(BUCKETS).fill(0);
  readonly #failures = new Array<number>(BUCKETS).fill(0);
  /** The bucket index (time / bucketMs) each slot last counted for. */
  readonly #epochs = new Array<number>(BUCKETS).fill(-1);
  #state: CircuitState = "closed";
  #openedAt = 0;
  #probing = false;

  constructor(settings: CircuitBreakerSettings) {
    this.#settings = settings;
    this.#bucketMs = Math.max(1, Math.ceil(settings.windowMs / BUCKETS));
  }

  get state(): CircuitState {
    return this.#state;
  }

  /**
   * Whether a call may go to the model now. While half-open, the one call let
   * through is the probe: the caller must `record` how it ended.
   */
  permit(now: number): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open") {
      if (now - this.#openedAt < this.#settings.openForMs) return false;
      this.#state = "half-open";
    }
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /** How a permitted call ended. */
  record(verdict: CallVerdict, now: number): void {
    if (this.#state === "half-open") {
      if (!this.#probing) return;
      this.#probing = false;
      if (verdict === "ok") this.#close();
      else if (verdict === "failed") this.#open(now);
      // An ignored probe proved nothing: the next call probes.
      return;
    }
    if (this.#state === "open" || verdict === "ignored") return;
    const epoch = Math.floor(now / this.#bucketMs);
    const slot = epoch % BUCKETS;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#calls[slot] = 0;
      this.#failures[slot] = 0;
    }
    (this.#calls[slot] as number)++;
    if (verdict === "ok") return;
    (this.#failures[slot] as number)++;
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (epoch - (this.#epochs[i] as number) >= BUCKETS) continue;
      calls += this.#calls[i] as number;
      failures += this.#failures[i] as number;
    }
    if (calls >= this.#settings.minCalls && failures >= this.#settings.failureRatio * calls) this.#open(now);
  }

  /** When an open breaker lets a probe through (epoch ms); null unless open. */
  get reopensAt(): number | null {
    return this.#state === "open" ? this.#openedAt + this.#settings.openForMs : null;
  }

  #open(now: number): void {
    this.#state = "open";
    this.#openedAt = now;
  }

  #close(): void {
    this.#state = "closed";
    this.#epochs.fill(-1);
  }
}
