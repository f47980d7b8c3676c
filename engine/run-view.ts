import type { ExecutionRecord, RunRecord } from "./store/records.ts";

/**
 * A run as the interfaces spec shows it (GET /v1/runs/{id}, pflow run):
 * times as ISO 8601, nodes by id with their latest state.
 */
export interface RunJson {
  readonly id: string;
  readonly workflow: { readonly name: string; readonly version: number };
  readonly status: string;
  readonly input: unknown;
  readonly output: unknown;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly models: Readonly<Record<string, string>>;
  readonly usage: RunRecord["usage"];
  /** What the run's calls cost; null when no model version declares a cost. */
  readonly cost: RunCost | null;
  readonly parent: RunRecord["parent"];
  readonly nodes: Readonly<Record<string, NodeJson>>;
  /** 1, and one more for each retry; the nodes show the current round (the history has every round). */
  readonly round: number;
}

/** One currency: its amount. Several (models priced in different currencies): each, and no single amount. */
export interface RunCost {
  readonly amount: number | null;
  readonly currency: string | null;
  readonly byCurrency?: Readonly<Record<string, number>>;
}

export interface NodeJson {
  readonly status: string;
  readonly attempts: number;
  readonly cached: boolean;
  readonly model?: string;
  readonly usage?: RunRecord["usage"];
  readonly cost?: { readonly amount: number; readonly currency: string };
  readonly items?: number;
  readonly childRunId?: string;
  /**
   * A queued node not yet due: when it is, and why it waits (a retry's backoff,
   * or its model's rate limit). A waiting node (wait, approval): what it waits
   * for, and when its timer (or timeout) ends the wait, if it has one.
   */
  readonly dueAt?: string;
  readonly waitingFor?: "retry" | "rate-limit" | "signal" | "timer" | "approval";
  /** The signal a waiting node waits for. */
  readonly signal?: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly output: unknown;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export function runJson(run: RunRecord, executions: readonly ExecutionRecord[]): RunJson {
  const nodes: Record<string, NodeJson> = {};
  for (const execution of executions) {
    if (execution.item !== null) continue;
    const terminal = ["succeeded", "failed", "skipped", "cancelled"].includes(execution.status);
    nodes[execution.nodeId] = {
      status: execution.status,
      attempts: execution.attemptsTotal,
      cached: execution.cached,
      ...(execution.model ? { model: execution.model } : {}),
      ...(execution.usage ? { usage: execution.usage } : {}),
      ...(execution.cost ? { cost: execution.cost } : {}),
      ...(execution.itemsTotal > 0 ? { items: execution.itemsTotal } : {}),
      ...(execution.childRunId ? { childRunId: execution.childRunId } : {}),
      ...waiting(execution),
      startedAt: iso(execution.startedAt),
      finishedAt: iso(execution.finishedAt),
      output: terminal ? execution.output : null,
      error: execution.status === "failed" || execution.status === "cancelled" ? execution.error : null,
    };
  }
  return {
    id: run.id,
    workflow: run.workflow,
    status: run.status,
    input: run.input,
    output: run.output,
    error: run.error,
    createdAt: iso(run.createdAt) as string,
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    models: run.models,
    usage: run.usage,
    cost: runCost(run.cost),
    parent: run.parent,
    nodes,
    round: run.round,
  };
}

/** A queued execution put off to a later time: a retry after its backoff, or a call waiting for its slot. */
function waiting(execution: ExecutionRecord): Pick<NodeJson, "dueAt" | "waitingFor" | "signal"> {
  if (execution.status === "waiting" && execution.waitKind !== null) {
    return {
      waitingFor: execution.waitKind,
      ...(execution.waitSignal !== null ? { signal: execution.waitSignal } : {}),
      ...(execution.leaseExpiresAt !== null
        ? { dueAt: new Date(execution.leaseExpiresAt).toISOString() }
        : {}),
    };
  }
  if (execution.status !== "queued" || execution.notBefore <= execution.updatedAt) return {};
  return {
    dueAt: new Date(execution.notBefore).toISOString(),
    waitingFor: execution.rateSlotAt !== null ? "rate-limit" : "retry",
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function runCost(byCurrency: Readonly<Record<string, number>>): RunCost | null {
  const entries = Object.entries(byCurrency);
  if (entries.length === 0) return null;
  if (entries.length === 1) {
    const [currency, amount] = entries[0] as [string, number];
    return { amount, currency };
  }
  return { amount: null, currency: null, byCurrency };
}
