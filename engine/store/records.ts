import type { NodeError } from "../errors.ts";
import type { TokenUsage } from "../providers/provider.ts";

/**
 * Glossary
 * - run: one execution of a workflow version with an input. Pins the workflow
 *   version and every model reference when it starts.
 * - execution: the state of one node in one run (`runId/nodeId`), or of one item
 *   of a map node (`runId/nodeId#index`). Its own record, never an array inside
 *   the run, so a 10,000-item map never makes one huge, contended document.
 * - attempt: one try at running an execution; retries are new attempts of the
 *   same execution, scheduled as state (`notBefore`), never as sleeping workers.
 * - lease: a worker claims an execution by moving it queued → running with a
 *   random token and a deadline. Only the holder of the token can finish or
 *   reschedule it; when the deadline passes, the sweeper puts it back in the
 *   queue and a late worker finds its token fenced off.
 * - waiting: a running map or workflow node holds no lease: it waits on its
 *   items or its child run, which finish it. A wait or approval node has the
 *   status `waiting`: no lease, no worker, no message; a signal, a decision or
 *   its timer (`leaseExpiresAt`, kept in the Store) finishes it.
 */
export type RunStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";
/** See EXECUTION_STATUSES. */
export type ExecutionStatus =
  | "pending"
  | "queued"
  | "running"
  | "waiting"
  | "succeeded"
  | "failed"
  | "skipped"
  | "cancelled";

/** What a call cost, from its token usage and its model version's declared prices. */
export interface Cost {
  readonly amount: number;
  readonly currency: string;
}

export const TERMINAL_RUN: ReadonlySet<RunStatus> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "timed_out",
]);
/** Every execution status, in the order an execution moves through them. */
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = [
  "pending",
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
];
/** An execution with one of these has finished: only a rerun of its run starts it again. */
export const TERMINAL_EXECUTION: ReadonlySet<ExecutionStatus> = new Set([
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
]);
/** The rest: an execution that has not finished yet. */
export const LIVE_EXECUTION: readonly ExecutionStatus[] = EXECUTION_STATUSES.filter(
  (status) => !TERMINAL_EXECUTION.has(status),
);

export interface ParentLink {
  readonly runId: string;
  readonly nodeId: string;
  /** The map item the child runs for, or null. */
  readonly item: number | null;
}

export interface RunRecord {
  readonly id: string;
  readonly workflow: { readonly name: string; readonly version: number };
  readonly status: RunStatus;
  readonly input: unknown;
  readonly output: unknown;
  readonly error: NodeError | null;
  /** Every model reference of the plan, pinned: `listing-writer@production` → `listing-writer@1`. */
  readonly models: Readonly<Record<string, string>>;
  readonly parent: ParentLink | null;
  /** A node failed with onError: fail; with failFast, no further node starts. */
  readonly failing: boolean;
  /** Top-level nodes, and how many have finished (skipped ones included). */
  readonly nodesTotal: number;
  readonly nodesDone: number;
  readonly usage: TokenUsage;
  /** What the run's calls cost so far, by currency (empty: nothing priced). */
  readonly cost: Readonly<Record<string, number>>;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** When the run's timeout ends it (epoch ms), or null. */
  readonly deadline: number | null;
  /** 1, and one more for each retry (each round keeps its history). */
  readonly round: number;
}

export interface ExecutionRecord {
  /** `runId/nodeId` or, for a map item, `runId/nodeId#index`. */
  readonly key: string;
  readonly runId: string;
  readonly nodeId: string;
  /** The map item index, or null for a node of the plan. */
  readonly item: number | null;
  readonly status: ExecutionStatus;
  /** Attempts started at the current model (1 after the first claim). */
  readonly attempt: number;
  /** 0: the node's model; 1…: its fallbacks in order. */
  readonly modelIndex: number;
  /** Attempts started in all, fallbacks included. */
  readonly attemptsTotal: number;
  /**
   * Leases that expired while held: each a worker that died or stalled running
   * it. Past the delivery limit the execution is dead-lettered (a poison task),
   * instead of killing worker after worker.
   */
  readonly leasesLost: number;
  readonly leaseToken: string | null;
  readonly leaseExpiresAt: number | null;
  /**
   * A call slot of its model's rate limit, reserved for this execution when it
   * was deferred to wait for it (epoch ms): the next claim calls the model
   * without taking another. null: none held.
   */
  readonly rateSlotAt: number | null;
  /** Earliest time a queued execution may be claimed (retry backoff). */
  readonly notBefore: number;
  /** For a map node: its items; for items and other nodes: 0. */
  readonly itemsTotal: number;
  /** For a map item: the item's value (`item` in its context); else null. */
  readonly input: unknown;
  /** How many dependencies have finished; ready when it equals the plan's count. */
  readonly depsDone: number;
  readonly output: unknown;
  readonly error: NodeError | null;
  readonly cached: boolean;
  /** `name@version` that produced the output, for model nodes. */
  readonly model: string | null;
  readonly usage: TokenUsage | null;
  readonly cost: Cost | null;
  readonly childRunId: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly updatedAt: number;
  /** The run's round this execution belongs to (a retry moves the executions it runs again to the next). */
  readonly round: number;
  /** While `waiting`: what it waits for (its timer, if any, is `leaseExpiresAt`); else null. */
  readonly waitKind: WaitKind | null;
  /** For a signal wait: the signal's name. */
  readonly waitSignal: string | null;
  /** The signal being delivered to it (bound before it finishes, so only one is). */
  readonly signalId: string | null;
}

/** What a waiting execution waits for: a named signal, its timer alone (for / until), or a person. */
export type WaitKind = "signal" | "timer" | "approval";

/**
 * A signal sent to a run. Kept until a wait node of its name takes it (the
 * oldest first), even when sent before the node started.
 * - new: stored; whether a node waits for it is not yet known;
 * - kept: no node waited when it was checked: the next to wait takes it;
 * - consumed: taken by `consumedBy`, whose finish may still be under way;
 * - delivered: the node finished with its data.
 */
export type SignalState = "new" | "kept" | "consumed" | "delivered";

export interface SignalRecord {
  readonly id: string;
  readonly runId: string;
  readonly name: string;
  readonly data: unknown;
  readonly state: SignalState;
  /** The execution that took it, or null. */
  readonly consumedBy: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type NewSignal = Pick<SignalRecord, "id" | "runId" | "name" | "data" | "createdAt">;

/** What a run transition may set (null clears a field); `deadline` is set anew when a run is retried. */
export type RunPatch = Partial<
  Pick<RunRecord, "status" | "output" | "error" | "startedAt" | "finishedAt" | "deadline">
>;

export interface NewRun {
  readonly id: string;
  readonly workflow: { readonly name: string; readonly version: number };
  readonly input: unknown;
  readonly models: Readonly<Record<string, string>>;
  readonly parent: ParentLink | null;
  readonly nodesTotal: number;
  readonly deadline: number | null;
  readonly createdAt: number;
}

/** What ends an execution. */
export interface Outcome {
  readonly status: "succeeded" | "failed" | "skipped" | "cancelled";
  readonly output?: unknown;
  readonly error?: NodeError | null;
  readonly cached?: boolean;
  readonly model?: string | null;
  readonly usage?: TokenUsage | null;
  /** Added to the run's cost, in its currency. */
  readonly cost?: Cost | null;
  /** Marks the run failing in the same transition (a node failed with onError: fail). */
  readonly failsRun?: boolean;
  /** Why a node is skipped, for its node.skipped event. */
  readonly reason?: string;
  /** What the attempt that ends here did, for its history. */
  readonly attempt?: AttemptDetail;
}

/**
 * What an attempt did, beyond its outcome, for the run's history (its
 * attempt.succeeded / attempt.failed event, and the attempt records).
 */
export interface AttemptDetail {
  /** The rendered model input or preprocess arguments, redacted and cut (history/redact.ts). */
  readonly request?: unknown;
  /** `name@version` called (the fallback's, at a fallback). */
  readonly model?: string | null;
  readonly provider?: string | null;
  /** Whether the error is worth another attempt. */
  readonly retryable?: boolean;
  /** When the attempt's call started (epoch ms), after any wait for a rate limit. */
  readonly startedAt?: number;
}

export interface DefinitionRecord {
  readonly kind: "Workflow" | "Model";
  readonly name: string;
  readonly version: number;
  readonly hash: string;
  /** The YAML text it was registered from. */
  readonly source: string;
  /** The compiled form (an ExecutionPlan or a CompiledModel), as JSON. */
  readonly compiled: unknown;
  readonly createdAt: number;
  /** Who registered this version (an API key's id, or "local"); null when not known. */
  readonly actor?: string | null;
  /**
   * Why, in the registrant's words: an alias move's reason, or the verdict of
   * an automatic canary rollback; null when none was given.
   */
  readonly reason?: string | null;
}

export interface DeadLetter {
  readonly id: string;
  readonly executionKey: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly reason: string;
  readonly deliveries: number;
  readonly createdAt: number;
}

/**
 * Upper bounds (ms) of the latency buckets of model call statistics; a last
 * bucket, without bound, takes the rest. Wide enough for LLM calls.
 */
export const CALL_LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000,
]);

/** Calls to one model version: how many, how many failed or timed out, and their latencies by bucket. */
export interface ModelCalls {
  readonly calls: number;
  readonly errors: number;
  readonly timeouts: number;
  /** Counts per CALL_LATENCY_BOUNDS_MS bucket, plus the last, unbounded one. */
  readonly latency: readonly number[];
}

/**
 * A call slot reserved from a rate limit: when the call may start (at most
 * `now`: at once) and until when the calls before it have spent the token
 * budget (at most `now`: nothing owed).
 */
export interface RateSlot {
  readonly startAt: number;
  readonly tokensFreeAt: number;
}

/** One process's calls to one model version (`name@version`) in one minute, to be added up. */
export interface ModelCallSample extends ModelCalls {
  readonly model: string;
  /** The minute's start, epoch ms. */
  readonly minute: number;
}

export function executionKey(runId: string, nodeId: string, item: number | null = null): string {
  return item === null ? `${runId}/${nodeId}` : `${runId}/${nodeId}#${item}`;
}
