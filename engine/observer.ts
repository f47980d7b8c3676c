import type { Task } from "./broker/broker.ts";
import type { CanaryReport } from "./canary-analysis.ts";
import type { ExecutionRecord, Outcome, RunRecord } from "./store/records.ts";

/**
 * What the engine tells whoever watches it (metrics, tracing). Called after the
 * fact, synchronously; an observer must be cheap and must not throw.
 */
export interface EngineObserver {
  runStarted(run: RunRecord): void;
  runFinished(run: RunRecord): void;
  nodeFinished(event: NodeFinished): void;
  retryScheduled(event: {
    readonly run: RunRecord;
    readonly execution: ExecutionRecord;
    readonly nodeType: string;
    readonly code: string;
  }): void;
  deadLettered(task: Task): void;
  /** A model call waits for its model's rate limit (`waitMs`), in the process or, if long, as state. */
  callHeldBack(event: { readonly model: string; readonly waitMs: number }): void;
  /** A model version's circuit breaker in this process changed state. */
  circuitChanged(event: { readonly model: string; readonly state: "closed" | "open" | "half-open" }): void;
  /** A canary with autoRollback was judged in this process (and, with `rolledBack`, cleared by it). */
  canaryAnalysed(report: CanaryReport): void;
  /** This process knows the trigger (its metrics start at 0). */
  triggerSeen?(event: TriggerEvent): void;
  /** A trigger started a run in this process (engine/triggers). */
  triggerFired?(event: TriggerEvent): void;
  /** A trigger's firing failed in this process: its input was refused, or a message was dead-lettered. */
  triggerFailed?(event: TriggerEvent): void;
}

export interface TriggerEvent {
  /** `workflow.name`. */
  readonly trigger: string;
  readonly kind: "cron" | "event" | "webhook";
}

export interface NodeFinished {
  readonly run: RunRecord;
  readonly execution: ExecutionRecord;
  readonly nodeType: string;
  /** The node has `cache`: with outcome.cached false, that was a miss. */
  readonly cacheable: boolean;
  readonly outcome: Outcome;
  /** From the execution's first claim to now; null if it never started (skipped). */
  readonly durationMs: number | null;
}

export const NO_OBSERVER: EngineObserver = Object.freeze({
  runStarted() {},
  runFinished() {},
  nodeFinished() {},
  retryScheduled() {},
  deadLettered() {},
  callHeldBack() {},
  circuitChanged() {},
  canaryAnalysed() {},
});
