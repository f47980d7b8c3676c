import type { NodeDelta } from "./broker/broker.ts";

/**
 * Batches the text one attempt streams into deltas. A model writes a token
 * every few milliseconds; one message per token would cost the broker more
 * than the run itself. So text is held until FLUSH_MS after the first piece
 * still held, or until MAX_CHARS are held, whichever comes first, and at most
 * one publish is in flight: text that arrives meanwhile goes out with the
 * next, so a slow broker gets fewer, larger deltas, never a queue of them.
 * Memory is bounded by the attempt's own text, which the provider holds anyway.
 */
export const FLUSH_MS = 50;
export const MAX_CHARS = 4_096;
/** close() waits this long, at most, for the last publish: a stuck broker must not hold the node's outcome. */
export const CLOSE_WAIT_MS = 1_000;

export type DeltaOrigin = Pick<NodeDelta, "runId" | "nodeId" | "item" | "attempt">;

export interface DeltaBatcherOptions {
  readonly flushMs?: number;
  readonly maxChars?: number;
  readonly closeWaitMs?: number;
}

export class DeltaBatcher {
  readonly #publish: (deltas: readonly NodeDelta[]) => Promise<void>;
  readonly #origin: DeltaOrigin;
  readonly #flushMs: number;
  readonly #maxChars: number;
  readonly #closeWaitMs: number;
  #pending = "";
  /** Where the pending text starts in the attempt's text. */
  #offset = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | null = null;
  #closed = false;

  constructor(
    publish: (deltas: readonly NodeDelta[]) => Promise<void>,
    origin: DeltaOrigin,
    options: DeltaBatcherOptions = {},
  ) {
    this.#publish = publish;
    this.#origin = origin;
    this.#flushMs = options.flushMs ?? FLUSH_MS;
    this.#maxChars = options.maxChars ?? MAX_CHARS;
    this.#closeWaitMs = options.closeWaitMs ?? CLOSE_WAIT_MS;
  }

  /** The next piece of the attempt's text. Ignored once closed. */
  push(text: string): void {
    if (this.#closed || text === "") return;
    this.#pending += text;
    if (this.#pending.length >= this.#maxChars) this.#flush();
    else this.#schedule();
  }

  /** Sends what is held and waits for it (up to CLOSE_WAIT_MS); nothing is sent after. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    const deadline = Date.now() + this.#closeWaitMs;
    while (this.#inFlight !== null) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        timer.unref();
      });
      await Promise.race([this.#inFlight, waited]);
      clearTimeout(timer);
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#inFlight !== null || this.#pending === "") return;
    const delta: NodeDelta = { ...this.#origin, offset: this.#offset, text: this.#pending };
    this.#offset += this.#pending.length;
    this.#pending = "";
    this.#inFlight = this.#publish([delta])
      // The port never rejects; should an adapter break that promise, a glimpse is all that is lost.
      .catch(() => {})
      .then(() => {
        this.#inFlight = null;
        if (this.#pending === "") return;
        // Held while the publish was in flight: out now if closing or full, else on the timer.
        if (this.#closed || this.#pending.length >= this.#maxChars) this.#flush();
        else this.#schedule();
      });
  }

  /** A flush FLUSH_MS from now, unless one is due already. */
  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.#flush(), this.#flushMs);
    this.#timer.unref();
  }
}
