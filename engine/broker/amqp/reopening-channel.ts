import type { Channel } from "amqplib";

/**
 * A channel opened on first use and again after it closes (a failed check or
 * declare closes an AMQP channel; so does a lost connection), so callers just
 * ask for it. `open` creates it and attaches its listeners.
 */
export class ReopeningChannel<C extends Channel> {
  readonly #open: () => Promise<C>;
  #current: Promise<C> | null = null;

  constructor(open: () => Promise<C>) {
    this.#open = open;
  }

  get(): Promise<C> {
    if (!this.#current) {
      const opening = this.#open().then((channel) => {
        channel.on("close", () => {
          if (this.#current === opening) this.#current = null;
        });
        return channel;
      });
      opening.catch(() => {
        if (this.#current === opening) this.#current = null;
      });
      this.#current = opening;
    }
    return this.#current;
  }

  /** Forgets the channel (after a reconnect): the next get() opens a new one. */
  reset(): void {
    this.#current = null;
  }
}
