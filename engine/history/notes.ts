import type { NodeError } from "../errors.ts";
import {
  type AttemptDetail,
  type ExecutionStatus,
  type Outcome,
  type RunPatch,
  type RunStatus,
  TERMINAL_RUN,
} from "../store/records.ts";
import type { HistoryNote } from "./events.ts";

/**
 * The history events each Store transition records, in the order they
 * happened. Pure, and shared by the adapters: each writes what these return
 * with the transition itself (SQLite in its transaction, MongoDB in the same
 * update, as an outbox), so an event exists exactly when its transition does.
 */

/** The execution a note is about, as the transition left it. */
export interface Subject {
  readonly nodeId: string;
  readonly item: number | null;
  /** Attempts started in the round (attemptsTotal). */
  readonly attempt: number;
}

/** A run moved from one of `from` to `patch.status`: a terminal status back to running is a retry, a new round. */
export function isRetry(from: readonly RunStatus[], patch: RunPatch): boolean {
  return patch.status === "running" && from.length > 0 && from.every((status) => TERMINAL_RUN.has(status));
}

export function runCreatedNote(workflow: { name: string; version: number }, at: number): HistoryNote {
  return { type: "run.created", at, data: { workflow: workflow.name, version: workflow.version } };
}

export function runNotes(from: readonly RunStatus[], patch: RunPatch, at: number): HistoryNote[] {
  const status = patch.status;
  if (status === undefined || status === "pending") return [];
  if (isRetry(from, patch)) {
    return [
      { type: "run.retried", at, data: { from: from.length === 1 ? from[0] : from } },
      { type: "run.running", at, data: {} },
    ];
  }
  if (status === "running") return [{ type: "run.running", at, data: {} }];
  if (status === "succeeded") return [{ type: "run.succeeded", at, data: { output: patch.output ?? null } }];
  return [{ type: `run.${status}`, at, data: { error: patch.error ?? null } }];
}

function note(
  subject: Subject,
  type: HistoryNote["type"],
  at: number,
  data: Record<string, unknown> = {},
): HistoryNote {
  return { type, at, nodeId: subject.nodeId, item: subject.item, attempt: subject.attempt, data };
}

export function queuedNote(subject: Subject, at: number): HistoryNote {
  return note(subject, "node.queued", at);
}

export function claimNotes(subject: Subject, at: number): HistoryNote[] {
  return [note(subject, "node.running", at), note(subject, "attempt.started", at)];
}

/** A wait or approval node started waiting: for what, and until when (its timer or timeout). */
export function waitingNote(
  subject: Subject,
  wait: { kind: string; signal: string | null; until: number | null },
  at: number,
): HistoryNote {
  return note(subject, "node.waiting", at, {
    for: wait.kind,
    ...(wait.signal !== null ? { signal: wait.signal } : {}),
    until: wait.until === null ? null : iso(wait.until),
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The error of an attempt as history keeps it: with whether it is worth another attempt. */
function attemptError(error: NodeError | null | undefined, detail: AttemptDetail | undefined) {
  const shown = error ?? { code: "failed", message: "the attempt failed" };
  return { code: shown.code, message: shown.message, retryable: detail?.retryable ?? false };
}

function detailData(detail: AttemptDetail | undefined): Record<string, unknown> {
  if (!detail) return {};
  return {
    ...(detail.model ? { model: detail.model } : {}),
    ...(detail.provider ? { provider: detail.provider } : {}),
    ...(detail.request !== undefined ? { request: detail.request } : {}),
    ...(detail.startedAt !== undefined ? { callStartedAt: iso(detail.startedAt) } : {}),
  };
}

export function rescheduleNotes(
  subject: Subject,
  next: {
    notBefore: number;
    error: Outcome["error"];
    modelIndex?: number;
    fallbackModel?: string | null;
    attempt?: AttemptDetail;
  },
  at: number,
): HistoryNote[] {
  const notes: HistoryNote[] = [];
  if (next.error?.code === "circuit-open")
    notes.push(note(subject, "attempt.circuit_open", at, { model: next.attempt?.model ?? null }));
  notes.push(
    note(subject, "attempt.failed", at, {
      error: attemptError(next.error, next.attempt),
      ...detailData(next.attempt),
    }),
  );
  if (next.modelIndex !== undefined)
    notes.push(
      note(subject, "attempt.fallback", at, {
        model: next.fallbackModel ?? null,
        modelIndex: next.modelIndex,
      }),
    );
  else notes.push(note(subject, "attempt.retry_scheduled", at, { dueAt: iso(next.notBefore) }));
  notes.push(note(subject, "node.queued", at, { dueAt: iso(next.notBefore) }));
  return notes;
}

export function deferNotes(subject: Subject, notBefore: number, at: number): HistoryNote[] {
  return [
    note(subject, "attempt.rate_limited", at, { dueAt: iso(notBefore) }),
    note(subject, "node.queued", at, { dueAt: iso(notBefore) }),
  ];
}

/** A lease expired: its attempt is over (the worker died or stalled), and the execution is queued again. */
export function leaseLostNotes(subject: Subject, at: number): HistoryNote[] {
  return [
    note(subject, "attempt.failed", at, {
      error: {
        code: "lease-expired",
        message: "the worker running the attempt stopped renewing its lease (it died or stalled)",
        retryable: true,
      },
    }),
    note(subject, "node.queued", at),
  ];
}

/**
 * An execution ended. An attempt in progress (it was running) ends with it:
 * succeeded or failed with the outcome's details; a skip or a cancellation
 * ends it with the node's event.
 */
export function finishNotes(
  subject: Subject,
  before: ExecutionStatus,
  outcome: Outcome,
  at: number,
): HistoryNote[] {
  const notes: HistoryNote[] = [];
  // A waiting node's one attempt lasts its whole wait, and ends with it.
  const attemptInProgress = before === "running" || before === "waiting";
  if (attemptInProgress && (outcome.status === "succeeded" || outcome.status === "failed")) {
    if (outcome.cached) notes.push(note(subject, "attempt.cache_hit", at));
    if (outcome.error?.code === "circuit-open")
      notes.push(note(subject, "attempt.circuit_open", at, { model: outcome.attempt?.model ?? null }));
    const detail = {
      ...(outcome.model ? { model: outcome.model } : {}),
      ...detailData(outcome.attempt),
      ...(outcome.usage ? { usage: outcome.usage } : {}),
      ...(outcome.cost ? { cost: outcome.cost } : {}),
      cached: outcome.cached === true,
    };
    notes.push(
      outcome.status === "succeeded"
        ? note(subject, "attempt.succeeded", at, detail)
        : note(subject, "attempt.failed", at, {
            ...detail,
            error: attemptError(outcome.error, outcome.attempt),
          }),
    );
  }
  notes.push(note(subject, `node.${outcome.status}`, at, nodeEndData(outcome)));
  return notes;
}

function nodeEndData(outcome: Outcome): Record<string, unknown> {
  switch (outcome.status) {
    case "succeeded":
      return { output: outcome.output ?? null };
    case "failed":
      return { error: outcome.error ?? null };
    case "skipped":
      return { reason: outcome.reason ?? "skipped" };
    default:
      return outcome.error ? { error: outcome.error } : {};
  }
}

/** cancelExecutions: each execution it ended. */
export function cancelNote(subject: Subject, status: "cancelled" | "skipped", at: number): HistoryNote {
  return status === "cancelled"
    ? note(subject, "node.cancelled", at, { error: { code: "cancelled", message: "the run ended" } })
    : note(subject, "node.skipped", at, { reason: "the run ended before the node ran" });
}
