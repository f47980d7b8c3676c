/**
 * Gathers the calls made in one turn of the event loop and serves them with
 * one call of `flush`: the store's way of sending one command for what many
 * concurrent callers ask (claims, finishes, reads by id), with no change to
 * what each caller sees. Callers that proceed in step (the deliveries of one
 * socket read, the continuations of one batch's answer) issue their next call
 * in the same turn, so they stay batched from one step to the next.
 *
 * The batch is sent after the turn (setImmediate), when every microtask the
 * turn started has run. `flush` answers each input by its index; a rejection
 * rejects every caller of the batch.
 */
export class TurnBatch<In, Out> {
  readonly #flush: (inputs: readonly In[]) => Promise<readonly Out[]>;
  #inputs: In[] = [];
  #waiters: Array<PromiseWithResolvers<Out>> = [];

  constructor(flush: (inputs: readonly In[]) => Promise<readonly Out[]>) {
    this.#flush = flush;
  }

  add(input: In): Promise<Out> {
    const waiter = Promise.withResolvers<Out>();
    if (this.#inputs.length === 0) setImmediate(() => this.#send());
    this.#inputs.push(input);
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  #send(): void {
    const inputs = this.#inputs;
    const waiters = this.#waiters;
    this.#inputs = [];
    this.#waiters = [];
    // A flush that throws at once rejects its callers as one that fails later does.
    new Promise<readonly Out[]>((resolve) => resolve(this.#flush(inputs))).then(
      (outputs) => {
        for (const [index, waiter] of waiters.entries()) waiter.resolve(outputs[index] as Out);
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  }
}
