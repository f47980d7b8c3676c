/**
 * Gathers concurrent calls and serves them with one call of `flush`: the
 * store's way of sending one command for what many callers ask (claims,
 * finishes, reads by id), with no change to what each caller sees.
 *
 * A batch is sent after the turn of the event loop it started in
 * (setImmediate), when every microtask of that turn has run, so callers that
 * proceed in step (the deliveries of one socket read, the continuations of
 * one batch's answer) share it. While a batch is in flight the next one
 * gathers, and is sent when the one before has answered: under load, calls
 * that would have queued at the server one behind the other wait here
 * instead, and go as one. `flush` answers each input by its index; a
 * rejection rejects every caller of the batch (callers check what is theirs
 * to refuse before they join).
 */
export class TurnBatch<In, Out> {
  readonly #flush: (inputs: readonly In[]) => Promise<readonly Out[]>;
  #inputs: In[] = [];
  #waiters: Array<PromiseWithResolvers<Out>> = [];
  #scheduled = false;
  #inFlight = false;

  constructor(flush: (inputs: readonly In[]) => Promise<readonly Out[]>) {
    this.#flush = flush;
  }

  add(input: In): Promise<Out> {
    const waiter = Promise.withResolvers<Out>();
    this.#inputs.push(input);
    this.#waiters.push(waiter);
    this.#schedule();
    return waiter.promise;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight || this.#inputs.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#send();
    });
  }

  #send(): void {
    const inputs = this.#inputs;
    const waiters = this.#waiters;
    this.#inputs = [];
    this.#waiters = [];
    this.#inFlight = true;
    // A flush that throws at once rejects its callers as one that fails later does.
    new Promise<readonly Out[]>((resolve) => resolve(this.#flush(inputs)))
      .then(
        (outputs) => {
          for (const [index, waiter] of waiters.entries()) waiter.resolve(outputs[index] as Out);
        },
        (error: unknown) => {
          for (const waiter of waiters) waiter.reject(error);
        },
      )
      .finally(() => {
        this.#inFlight = false;
        this.#schedule();
      });
  }
}
