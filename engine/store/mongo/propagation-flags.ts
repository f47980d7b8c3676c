import type { Collection } from "mongodb";
import type { ExecutionDocument } from "./documents.ts";

/**
 * Step 4 of a finish (see finish.ts): clearing an execution's `propagated: false`
 * once its dependents and its run have counted it. The flag only tells recovery
 * where to look, so clearing it need not hold up the finish: the finishes of one
 * turn of the event loop share one updateMany, sent after the turn. A clear that
 * is lost (a crash, a failed write) leaves the flag, and recovery reconciles a
 * run that needed nothing: harmless, as reconciling is idempotent.
 */
export class PropagationFlags {
  readonly #executions: Collection<ExecutionDocument>;
  #pending: string[] = [];
  #flushing: Promise<void> | undefined;

  constructor(executions: Collection<ExecutionDocument>) {
    this.#executions = executions;
  }

  /** The finish of `key` has propagated. */
  clear(key: string): void {
    this.#pending.push(key);
    this.#flushing ??= this.#flush();
  }

  /** Resolves once every clear asked for so far has been sent (for close()). */
  async settle(): Promise<void> {
    await this.#flushing;
  }

  async #flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#pending.length > 0) {
      const keys = this.#pending.splice(0);
      try {
        await this.#executions.updateMany(
          { _id: { $in: keys }, propagated: false },
          { $unset: { propagated: "" } },
        );
      } catch {
        // The flags stay set: recovery reconciles those runs (see above).
      }
    }
    this.#flushing = undefined;
  }
}
