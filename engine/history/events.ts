import type { NodeError } from "../errors.ts";

/**
 * A run's history: every state change of the run, its nodes and their
 * attempts, in order, kept after the run ends and across retries (rounds).
 * Each event has a per-run sequence number (1, 2, 3, … with no gaps), given
 * by the Store when the event becomes durable, together with the transition
 * it records (see docs/decisions.md, "Run history").
 */
export type RunEventType =
  | "run.created"
  | "run.running"
  | "run.succeeded"
  | "run.failed"
  | "run.cancelled"
  | "run.timed_out"
  | "run.retried";

export type NodeEventType =
  | "node.queued"
  | "node.running"
  | "node.waiting"
  | "node.succeeded"
  | "node.failed"
  | "node.skipped"
  | "node.cancelled";

export type AttemptEventType =
  | "attempt.started"
  | "attempt.succeeded"
  | "attempt.failed"
  | "attempt.retry_scheduled"
  | "attempt.rate_limited"
  | "attempt.cache_hit"
  | "attempt.fallback"
  | "attempt.circuit_open";

export type HistoryEventType = RunEventType | NodeEventType | AttemptEventType;

export const HISTORY_EVENT_TYPES: readonly HistoryEventType[] = Object.freeze([
  "run.created",
  "run.running",
  "run.succeeded",
  "run.failed",
  "run.cancelled",
  "run.timed_out",
  "run.retried",
  "node.queued",
  "node.running",
  "node.waiting",
  "node.succeeded",
  "node.failed",
  "node.skipped",
  "node.cancelled",
  "attempt.started",
  "attempt.succeeded",
  "attempt.failed",
  "attempt.retry_scheduled",
  "attempt.rate_limited",
  "attempt.cache_hit",
  "attempt.fallback",
  "attempt.circuit_open",
]);

/** What a transition records, before the Store gives it its place (seq) in the run's history. */
export interface HistoryNote {
  readonly type: HistoryEventType;
  /** Epoch ms. */
  readonly at: number;
  readonly nodeId?: string | null;
  /** A map item's index. */
  readonly item?: number | null;
  /** The attempt of its execution in its round (fallbacks included: attemptsTotal). */
  readonly attempt?: number | null;
  readonly data: Readonly<Record<string, unknown>>;
}

/** One event of a run's history, as the Store keeps it. */
export interface HistoryEvent {
  readonly runId: string;
  readonly seq: number;
  readonly at: number;
  readonly type: HistoryEventType;
  /** 1 for the run's first round; each retry starts the next. */
  readonly round: number;
  readonly nodeId: string | null;
  readonly item: number | null;
  readonly attempt: number | null;
  readonly data: Readonly<Record<string, unknown>>;
}

/** An event as the API shows it (GET …/history, the event stream's `data:`). */
export interface HistoryEventJson {
  readonly seq: number;
  readonly at: string;
  readonly type: HistoryEventType;
  readonly runId: string;
  readonly round: number;
  readonly nodeId?: string;
  readonly item?: number;
  readonly attempt?: number;
  readonly data: Readonly<Record<string, unknown>>;
  /**
   * The fields event-stream clients read before the history existed, kept:
   * the status the event reports (run and node events), the node's attempts,
   * the output of a success, the error of a failure.
   */
  readonly status?: string;
  readonly attempts?: number;
  readonly output?: unknown;
  readonly error?: NodeError | unknown;
}

const STATUS_EVENT = /^(run|node)\.(.+)$/;

export function historyEventJson(event: HistoryEvent): HistoryEventJson {
  const status = STATUS_EVENT.exec(event.type)?.[2];
  const legacy: Record<string, unknown> = {};
  if (status !== undefined && status !== "created" && status !== "retried") {
    legacy.status = status;
    if (event.nodeId !== null && event.attempt !== null) legacy.attempts = event.attempt;
    if (status === "succeeded" && "output" in event.data) legacy.output = event.data.output;
    if (event.data.error !== undefined && event.data.error !== null) legacy.error = event.data.error;
  }
  return {
    seq: event.seq,
    at: new Date(event.at).toISOString(),
    type: event.type,
    runId: event.runId,
    round: event.round,
    ...(event.nodeId === null ? {} : { nodeId: event.nodeId }),
    ...(event.item === null ? {} : { item: event.item }),
    ...(event.attempt === null ? {} : { attempt: event.attempt }),
    data: event.data,
    ...legacy,
  };
}

/** Ends a run: after it, nothing more happens to the run until a retry starts a new round. */
export function endsRun(type: HistoryEventType): boolean {
  return (
    type === "run.succeeded" || type === "run.failed" || type === "run.cancelled" || type === "run.timed_out"
  );
}
