import { ExecutionError } from "../errors.ts";
import type { Runner } from "../runner.ts";
import type { EngineServices } from "../services.ts";
import { type ExecutionRecord, type Outcome, TERMINAL_RUN } from "../store/records.ts";
import { nodeOf } from "../tasks.ts";

/**
 * A waiting execution's timer has passed (the sweeper found it: a query on the
 * Store, in every process). A `for`/`until` wait succeeds; a wait bounded by
 * its `timeout` first (a signal that did not come, a decision not made, a
 * timer longer than the timeout) fails, with onError deciding what follows.
 * The finish is one conditional write from `waiting`: of every sweeper that
 * finds the timer at once, and of a signal or decision arriving at the same
 * moment, exactly one ends the node.
 */
export async function fireTimer(
  services: EngineServices,
  runner: Runner,
  execution: ExecutionRecord,
): Promise<void> {
  const { store, catalog, clock } = services;
  const run = await store.getRun(execution.runId);
  // An ended run's executions end with it (cancelExecutions).
  if (!run || TERMINAL_RUN.has(run.status) || execution.leaseExpiresAt === null) return;
  const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
  const node = nodeOf(plan, execution);
  const firedAt = execution.leaseExpiresAt;
  const outcome: Outcome =
    execution.waitKind === "timer" && !timedOut(node, execution, firedAt)
      ? { status: "succeeded", output: { until: iso(firedAt), firedAt: iso(clock()) } }
      : { status: "failed", error: timeoutError(execution, node.timeoutMs ?? 0).toJSON() };
  await runner.finishExecution(run, plan, execution, { status: ["waiting"] }, outcome);
}

/** A timer set to the node's timeout because the wait would have lasted longer (executors/wait.ts). */
function timedOut(node: ReturnType<typeof nodeOf>, execution: ExecutionRecord, firedAt: number): boolean {
  if (node.timeoutMs === null || execution.startedAt === null) return false;
  if (node.type === "wait" && node.forMs !== null) return node.forMs > node.timeoutMs;
  return firedAt >= execution.startedAt + node.timeoutMs;
}

function timeoutError(execution: ExecutionRecord, timeoutMs: number): ExecutionError {
  const what =
    execution.waitKind === "approval"
      ? "a decision"
      : execution.waitKind === "signal"
        ? `signal "${execution.waitSignal}"`
        : "its time";
  return ExecutionError.nonRetryable(
    execution.waitKind === "approval" ? "approval-timeout" : "wait-timeout",
    `node "${execution.nodeId}" waited ${durationText(timeoutMs)} (its timeout) for ${what}`,
  );
}

/** 48h, 90s, 250ms: the largest unit that divides it, as the YAML would say it. */
function durationText(ms: number): string {
  for (const [unit, size] of UNITS) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

const UNITS: readonly (readonly [string, number])[] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
];

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
