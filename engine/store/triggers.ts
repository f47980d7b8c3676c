/**
 * The Store's part for triggers (cron, event, webhook): each trigger's state
 * (paused, last fire, last error, counts), the claims of cron ticks, and the
 * dead letters of event triggers. Kept apart from the rest of the port
 * (Store.triggers) so that it reads, and merges, as one concept.
 *
 * Exactly once comes from two things every adapter guarantees: a tick is
 * claimed by one caller only (an insert on a unique key: the trigger and the
 * tick), and a run id derived from the tick or message makes creating its run
 * idempotent (Store.createRun). Times are epoch ms passed in by the caller.
 */
export type TriggerKind = "cron" | "event" | "webhook";

export interface TriggerState {
  /** `workflow.name`. */
  readonly id: string;
  readonly workflow: string;
  readonly kind: TriggerKind;
  readonly paused: boolean;
  /** Ticks at or before this are never caught up: when the trigger was first seen, or last resumed. */
  readonly since: number;
  readonly lastFireAt: number | null;
  readonly lastRunId: string | null;
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
  /** Runs started, and firings that failed, since the trigger was first seen. */
  readonly fired: number;
  readonly failed: number;
}

/** A cron tick, claimed by the one process that handles it. */
export interface TickClaim {
  readonly trigger: string;
  /** The scheduled time (epoch ms). */
  readonly tick: number;
  /** fired: its run is `runId`; skipped: the previous run was still going (overlap: skip); missed: not caught up; failed: its input was refused. */
  readonly outcome: "fired" | "skipped" | "missed" | "failed";
  readonly runId: string | null;
  readonly claimedAt: number;
}

/** A message an event trigger could not start a run from, kept with the reason. */
export interface TriggerDeadLetter {
  readonly id: string;
  readonly trigger: string;
  readonly workflow: string;
  readonly reason: string;
  readonly messageId: string | null;
  readonly routingKey: string;
  /** The message body as received (text), cut at 64 KiB. */
  readonly body: string;
  readonly createdAt: number;
}

export interface TriggerStore {
  /**
   * The latest version number of every registered workflow, without their
   * documents: what the trigger refresh reads every few seconds, so that it
   * fetches a workflow's plan only when a new version appears.
   */
  latestWorkflowVersions(): Promise<{ readonly name: string; readonly version: number }[]>;
  /** The trigger's state, created (not paused, `since` = now) if it did not exist. */
  ensureTrigger(id: string, workflow: string, kind: TriggerKind, now: number): Promise<TriggerState>;
  getTrigger(id: string): Promise<TriggerState | null>;
  /** Every trigger ever seen, by id. */
  listTriggers(): Promise<TriggerState[]>;
  /** Pauses or resumes; resuming sets `since` to now (ticks missed while paused are not caught up). null: unknown. */
  setTriggerPaused(id: string, paused: boolean, now: number): Promise<TriggerState | null>;
  /** A run started: last fire and last run id set, fired + 1. */
  recordTriggerFired(id: string, runId: string, at: number): Promise<void>;
  /** A firing failed: last error set, failed + 1. */
  recordTriggerFailed(id: string, error: string, at: number): Promise<void>;
  /** Claims a tick; false if it was claimed already (by any process). */
  claimTick(claim: TickClaim): Promise<boolean>;
  /** The trigger's latest claimed tick, or null. */
  latestTick(trigger: string): Promise<TickClaim | null>;
  /** Keeps a dead letter (the same id twice: one letter). */
  addTriggerDeadLetter(letter: TriggerDeadLetter): Promise<void>;
  /** Newest first. */
  listTriggerDeadLetters(limit: number): Promise<TriggerDeadLetter[]>;
}
