import { EventEmitter } from "node:events";

/**
 * In-process notices of runs that ended, so a caller waiting on a run (pflow
 * run, ?wait=) wakes at once instead of polling. A run ended by another process
 * is seen by the waiter's own polling.
 */
export class RunEvents {
  readonly #emitter = new EventEmitter().setMaxListeners(0);

  finished(runId: string): void {
    this.#emitter.emit(runId);
  }

  /** Resolves when `runId` is announced as finished, or after `ms`. */
  waitFor(runId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#emitter.off(runId, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#emitter.once(runId, done);
    });
  }
}
