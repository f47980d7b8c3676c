import type { DeltaListener, NodeDelta } from "./broker.ts";

/**
 * The delta listeners of one process, by run: what both Broker adapters keep
 * to hand a delta to the subscribers of its run. A listener that throws is
 * that listener's problem: the others still get the delta.
 */
export class DeltaListeners {
  readonly #byRun = new Map<string, Set<DeltaListener>>();

  /** Adds a listener; true if it is the run's first (the adapter starts receiving the run). */
  add(runId: string, listener: DeltaListener): boolean {
    const listeners = this.#byRun.get(runId);
    if (listeners !== undefined) {
      listeners.add(listener);
      return false;
    }
    this.#byRun.set(runId, new Set([listener]));
    return true;
  }

  /** Removes a listener; true if it was the run's last (the adapter may stop receiving the run). */
  remove(runId: string, listener: DeltaListener): boolean {
    const listeners = this.#byRun.get(runId);
    if (listeners === undefined || !listeners.delete(listener)) return false;
    if (listeners.size > 0) return false;
    this.#byRun.delete(runId);
    return true;
  }

  has(runId: string): boolean {
    return this.#byRun.has(runId);
  }

  runs(): string[] {
    return [...this.#byRun.keys()];
  }

  dispatch(delta: NodeDelta): void {
    for (const listener of this.#byRun.get(delta.runId) ?? []) {
      try {
        listener(delta);
      } catch {
        // See above: one listener's failure is not the others'.
      }
    }
  }

  clear(): void {
    this.#byRun.clear();
  }
}
