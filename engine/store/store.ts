import type { HistoryEvent } from "../history/events.ts";
import type {
  AttemptDetail,
  DeadLetter,
  DefinitionRecord,
  ExecutionRecord,
  ExecutionStatus,
  ModelCallSample,
  ModelCalls,
  NewRun,
  Outcome,
  RateSlot,
  RunPatch,
  RunRecord,
  RunStatus,
} from "./records.ts";
import type { TriggerStore } from "./triggers.ts";
import type { WaitStore } from "./waits.ts";

/**
 * The Store port: durable state of runs and their executions, the result cache,
 * registered definitions, idempotency keys and dead letters.
 *
 * Delivery is at least once; state changes are exactly once. Every transition is
 * one conditional update on one record (expected status, and lease token where
 * a worker holds one): a duplicate or stale caller matches nothing and gets
 * false/null back, and must drop what it was doing. Propagation (a finished node
 * counting towards its dependents and its run) is part of the transition: an
 * adapter does both atomically, or makes the propagation idempotent and replays
 * it (MongoDB has no multi-document transactions). Recovery after a crash does
 * not rely on the counts: the runner reconciles a run from its executions'
 * statuses.
 *
 * No driver type crosses this port (no connection, session or transaction);
 * adapters own their connections. Lifecycle: start() before use, close() after.
 * Times are epoch milliseconds passed in by the caller, so tests control the clock.
 *
 * A method's promise resolves once its change is durable, except
 * queueExecutions, queueNextItems, claimExecution and renewLease, which may
 * resolve as soon as the change is visible to this process: a crash that loses
 * one only means the execution is delivered again, which recovery does anyway.
 */
/** Which of a run's history events to read: after a sequence number, at most `limit`, optionally of one node (and map item). */
export interface HistoryQuery {
  readonly after?: number;
  readonly limit: number;
  readonly nodeId?: string;
  readonly item?: number | null;
}

export interface Store {
  /** Trigger state, cron tick claims and event dead letters (triggers.ts). */
  readonly triggers: TriggerStore;
  /** Waiting executions, signals and approvals (waits.ts). */
  readonly waits: WaitStore;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Cheap round trip, for readiness checks. */
  ping(): Promise<void>;

  // Runs ------------------------------------------------------------------

  /**
   * Creates a run (status pending) and one pending execution per node of its
   * plan. Idempotent on the run id: a second call returns the existing run and
   * inserts what is missing.
   */
  createRun(run: NewRun, nodes: readonly string[]): Promise<RunRecord>;
  getRun(id: string): Promise<RunRecord | null>;
  /**
   * Moves a run from one of `from` to `patch.status`, setting the other fields
   * given (null clears one); null if the run was not in `from`.
   */
  transitionRun(id: string, from: readonly RunStatus[], patch: RunPatch): Promise<RunRecord | null>;
  /** Sets `failing` (idempotent). */
  markRunFailing(id: string): Promise<void>;
  /** Newest first. `cursor` is the `next` of the previous page. */
  listRuns(query: {
    workflow?: string;
    status?: RunStatus;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: RunRecord[]; next: string | null }>;
  /** Runs in `running` whose deadline has passed. */
  findOverdueRuns(now: number, limit: number): Promise<RunRecord[]>;
  /** Runs not yet finished (pending or running), for recovery at start. */
  findUnfinishedRuns(limit: number): Promise<RunRecord[]>;

  // Executions ------------------------------------------------------------

  getExecution(key: string): Promise<ExecutionRecord | null>;
  /** The executions of a run: its nodes, and with `items` also map items. */
  getExecutions(
    runId: string,
    options?: { nodeIds?: readonly string[]; items?: boolean },
  ): Promise<ExecutionRecord[]>;
  /** The items of a map node, in item order. */
  getItems(runId: string, nodeId: string): Promise<ExecutionRecord[]>;

  /** pending → queued for each key (notBefore: now); returns the keys that moved. */
  queueExecutions(keys: readonly string[], now: number): Promise<string[]>;
  /**
   * queued → running, if notBefore ≤ now: attempt and attemptsTotal + 1, the
   * lease taken. null if the execution is not queued (a duplicate delivery) or
   * not yet due.
   */
  claimExecution(
    key: string,
    lease: { token: string; until: number },
    now: number,
  ): Promise<ExecutionRecord | null>;
  /** Extends a lease the caller still holds. */
  renewLease(key: string, token: string, until: number): Promise<boolean>;
  /**
   * running (held by `token`) → queued, due at `notBefore`: the next attempt,
   * at the same model or (with `modelIndex`) at a fallback, attempt reset to 0.
   */
  rescheduleExecution(
    key: string,
    token: string,
    next: {
      notBefore: number;
      error: Outcome["error"];
      modelIndex?: number;
      /** For the history: the fallback's `name@version`, and what the failed attempt did. */
      fallbackModel?: string | null;
      attempt?: AttemptDetail;
    },
    now: number,
  ): Promise<boolean>;
  /**
   * running (held by `token`) → queued, due at `notBefore`, as if the claim had
   * not happened: attempt and attemptsTotal go back by one, the error stays.
   * For an execution held back by a limit: waiting is not an attempt. Sets
   * `rateSlotAt` (null clears it).
   */
  deferExecution(
    key: string,
    token: string,
    next: { notBefore: number; rateSlotAt: number | null },
    now: number,
  ): Promise<boolean>;
  /**
   * running (held by `token`) → running with no lease: a map or workflow node
   * that now waits on its items or child run. Sets itemsTotal / childRunId, and
   * `until`, the node's own timeout (null: none).
   */
  startWaiting(
    key: string,
    token: string,
    wait: { itemsTotal?: number; childRunId?: string; until?: number | null },
    now: number,
  ): Promise<boolean>;
  /**
   * Waiting executions whose `until` has passed: running ones with no lease
   * (map, workflow) and `waiting` ones (wait, approval): the durable timers.
   */
  findOverdueWaiting(now: number, limit: number): Promise<ExecutionRecord[]>;
  /**
   * Ends an execution, and propagates. The transition happens only if the
   * execution is in one of `expect.status` (and holds `expect.token` when given).
   * Then, for a node of the plan, it counts as done for each of `dependents`
   * and for its run; for a map item, it counts towards its map node.
   * Returns null if the transition did not happen; else the dependents whose
   * dependencies are now all done (`ready`, with the plan's dependency counts in
   * `dependencyCounts`), whether every node of the run has finished
   * (`runComplete`), and for an item how many items of its map have finished.
   */
  finishExecution(
    key: string,
    expect: { status: readonly ExecutionStatus[]; token?: string },
    outcome: Outcome,
    propagation: { dependents: readonly string[]; dependencyCounts: Readonly<Record<string, number>> },
    now: number,
  ): Promise<FinishResult | null>;
  /** Creates the pending item executions of a map node, one per value (idempotent). */
  createItems(runId: string, nodeId: string, items: readonly unknown[], now: number): Promise<void>;
  /** Up to `limit` pending items of a map, lowest index first, → queued; returns their keys. */
  queueNextItems(runId: string, nodeId: string, limit: number, now: number): Promise<string[]>;
  /**
   * Rerun: puts the given nodes of a finished run back to pending (and deletes
   * their items), keeping the others; `depsDone` of each is set from
   * `depsDoneAfterReset`, and the run's nodesDone lowered to match. The reset
   * executions belong to `round` from then on (the round the rerun starts).
   */
  resetExecutions(
    runId: string,
    nodeIds: readonly string[],
    depsDoneAfterReset: Readonly<Record<string, number>>,
    round: number,
  ): Promise<void>;
  /**
   * running executions whose lease expired before `expiredBefore` (default:
   * now) → queued, due now, one more lost lease counted; returns their keys.
   * Recovery at start passes a later `expiredBefore` to take back every lease.
   */
  sweepExpiredLeases(now: number, limit: number, expiredBefore?: number): Promise<string[]>;
  /**
   * The earliest `notBefore` of the queued executions due at `now` (map items
   * included), or null when none is: how long the oldest has waited, for the
   * backlog-age metric. Read-only.
   */
  oldestDueQueued(now: number): Promise<number | null>;
  /** queued executions that are due and were last touched before `before`: their delivery may be lost. */
  findStrandedExecutions(now: number, before: number, limit: number): Promise<string[]>;
  /**
   * Finished executions whose propagation may not have completed, last touched
   * before `before`: an adapter that propagates in several writes (MongoDB),
   * and a process that died between them. An adapter that propagates in the
   * transition's own transaction (SQLite) has none.
   */
  findUnpropagated(before: number, limit: number): Promise<ExecutionRecord[]>;
  /**
   * Completes such a propagation, idempotently: counts the execution once for
   * each of `dependents` not yet counting it, marks it propagated, and returns
   * the dependents this made ready (still pending, every dependency counted).
   * The run's and a map's counters are not replayed (they have no per-finish
   * guard): the runner reconciles those from statuses.
   */
  resumePropagation(
    key: string,
    propagation: { dependents: readonly string[]; dependencyCounts: Readonly<Record<string, number>> },
  ): Promise<string[]>;
  /** Non-terminal executions of a run → cancelled (or skipped); returns their keys. */
  cancelExecutions(runId: string, status: "cancelled" | "skipped", now: number): Promise<string[]>;

  // History -----------------------------------------------------------------
  //
  // Every transition above records its events (engine/history/notes.ts) with
  // itself: an event exists exactly when its transition does, once, whatever
  // the retries, duplicates and crashes. createRun records run.created,
  // transitionRun the run's new status (a terminal status back to running is
  // run.retried, the next round), queueing node.queued, a claim node.running
  // and attempt.started, a reschedule, deferral, expired lease or finish the
  // attempt's end and what follows, cancelExecutions each node's end.

  /**
   * Up to `limit` events of a run with a sequence number above `after`
   * (default 0), in order. With `nodeId`, that node's events only, and of
   * those the item `item`'s (undefined or null: the node's own).
   */
  listHistory(runId: string, query: HistoryQuery): Promise<HistoryEvent[]>;
  /** Deletes up to `limit` events older than `before` (epoch ms), in bulk; returns how many went. */
  deleteHistory(before: number, limit: number): Promise<number>;
  /**
   * Events recorded with their transitions but not yet given their sequence
   * number, last touched before `before`: an adapter that numbers them in a
   * second write (MongoDB) and a process that died between the two. Numbers
   * them now, idempotently; returns how many it numbered. SQLite: always 0.
   */
  repairHistory(before: number, limit: number): Promise<number>;
  /**
   * Calls `listener` with a run's id after this process appended to the run's
   * history (not other processes: they are seen by reading). Returns the
   * function that removes the listener.
   */
  onHistory(listener: (runId: string) => void): () => void;

  // Rate limits (deployment-wide) --------------------------------------------

  /**
   * Reserves the next call slot of `key` (a rate-limited model), paced one call
   * every `intervalMs` (60 s / requestsPerMinute) across every process: the
   * slot after the last one reserved, or `now` if that is past. Concurrent
   * callers get distinct slots.
   */
  takeRateSlot(key: string, intervalMs: number, now: number): Promise<RateSlot>;
  /**
   * Charges the tokens a call of `key` used, as time: `costMs` (tokens × 60 s /
   * tokensPerMinute) added after the later of the budget's end and `now`.
   */
  chargeRateTokens(key: string, costMs: number, now: number): Promise<void>;

  // Model call statistics ---------------------------------------------------

  /** Adds calls to the per-minute statistics of their model versions (each sample atomically). */
  recordModelCalls(samples: readonly ModelCallSample[]): Promise<void>;
  /** The calls to each of `models` (`name@version`) in the minutes from `since` on, summed; absent: none. */
  modelCalls(models: readonly string[], since: number): Promise<Record<string, ModelCalls>>;

  // Result cache ------------------------------------------------------------

  getCached(key: string, now: number): Promise<unknown | undefined>;
  putCached(key: string, value: unknown, expiresAt: number | null): Promise<void>;

  // Definitions, idempotency, dead letters ----------------------------------

  /** Registers a definition; the same hash as the latest version is not a new version. */
  registerDefinition(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    now: number,
  ): Promise<{ record: DefinitionRecord; created: boolean }>;
  /**
   * Compare-and-set: registers a definition only if its latest version is still
   * `basedOn` (0: none yet), the version the caller computed its change from.
   * Of two changes computed from one version (two alias moves, two processes
   * rolling back one canary) exactly one is registered. The same hash as that
   * latest version is not a new version. null: another version was registered
   * since, and nothing was written; the caller reads the latest and decides again.
   */
  registerDefinitionIfLatest(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    basedOn: number,
    now: number,
  ): Promise<{ record: DefinitionRecord; created: boolean } | null>;
  /** A version, or the latest one. */
  getDefinition(
    kind: DefinitionRecord["kind"],
    name: string,
    version?: number,
  ): Promise<DefinitionRecord | null>;
  /** The latest version of each definition of a kind. */
  listDefinitions(kind: DefinitionRecord["kind"]): Promise<DefinitionRecord[]>;
  /** Every version of one definition, oldest first (none: empty). */
  listDefinitionVersions(kind: DefinitionRecord["kind"], name: string): Promise<DefinitionRecord[]>;
  /** Records key → runId unless the key exists; returns the run id the key belongs to. */
  claimIdempotencyKey(key: string, runId: string, now: number): Promise<string>;
  addDeadLetter(letter: DeadLetter): Promise<void>;
  listDeadLetters(limit: number): Promise<DeadLetter[]>;
  /** Removes and returns a dead letter (for replay), or null. */
  takeDeadLetter(id: string): Promise<DeadLetter | null>;
}

export interface FinishResult {
  /** Dependents now ready to be considered. */
  readonly ready: string[];
  /** Every node of the run has finished. */
  readonly runComplete: boolean;
  /** For a map item: items of its map finished, and in all. */
  readonly items: { readonly done: number; readonly total: number } | null;
}
