import type { CreateIndexesOptions, Db, IndexSpecification } from "mongodb";
import { isNotImplemented } from "./server-errors.ts";

/**
 * The MongoDB store's indexes, created by start(). Creating an index that
 * exists is a no-op, so every process may do it at every start. Each index is
 * created by its own command: FerretDB 1.24 drops the connection when one
 * createIndexes command names several indexes that all exist.
 *
 * Lookups by key (a run, an execution, an idempotency key, a cache entry, a
 * dead letter) use _id, unique by nature. FerretDB 1.x keeps these indexes but
 * plans no query with them (it filters in memory); a real MongoDB uses them all.
 */
interface IndexDefinition {
  readonly collection: string;
  readonly key: IndexSpecification;
  readonly options: CreateIndexesOptions & { name: string };
}

const INDEXES: readonly IndexDefinition[] = [
  // listRuns, newest first: (createdAt, _id) is the stable order its cursor walks.
  { collection: "runs", key: { createdAt: -1, _id: -1 }, options: { name: "newest" } },
  {
    collection: "runs",
    key: { "workflow.name": 1, createdAt: -1, _id: -1 },
    options: { name: "by_workflow" },
  },
  // listRuns by status, and findUnfinishedRuns.
  { collection: "runs", key: { status: 1, createdAt: -1, _id: -1 }, options: { name: "by_status" } },
  // findOverdueRuns.
  { collection: "runs", key: { status: 1, deadline: 1 }, options: { name: "by_deadline" } },

  // A run's executions (getExecutions), and a map's items in item order (getItems).
  { collection: "executions", key: { runId: 1, nodeId: 1, item: 1 }, options: { name: "by_run" } },
  // queueNextItems: the lowest pending items of a map, without walking the finished ones.
  {
    collection: "executions",
    key: { runId: 1, nodeId: 1, status: 1, item: 1 },
    options: { name: "by_run_status" },
  },
  // sweepExpiredLeases (running, by lease expiry) and findOverdueWaiting (running, by own deadline).
  { collection: "executions", key: { status: 1, leaseExpiresAt: 1 }, options: { name: "by_lease" } },
  // findStrandedExecutions: queued, untouched since a time, due.
  {
    collection: "executions",
    key: { status: 1, updatedAt: 1, notBefore: 1 },
    options: { name: "by_touched" },
  },
  // oldestDueQueued: the queued execution due first.
  { collection: "executions", key: { status: 1, notBefore: 1 }, options: { name: "by_due" } },
  // findUnpropagated: only executions whose finish is still propagating carry the field.
  { collection: "executions", key: { propagated: 1 }, options: { name: "unpropagated", sparse: true } },

  // A definition's versions; unique, so two processes registering at once cannot both take a version.
  {
    collection: "definitions",
    key: { kind: 1, name: 1, version: 1 },
    options: { name: "by_version", unique: true },
  },
  // modelCalls: a model version's recent minutes.
  { collection: "model_calls", key: { model: 1, minute: 1 }, options: { name: "by_model" } },
  // A run's history in order; unique, so two writers cannot both take a sequence number (history.ts).
  { collection: "history", key: { runId: 1, seq: 1 }, options: { name: "by_seq", unique: true } },
  // deleteHistory: the oldest events first.
  { collection: "history", key: { at: 1 }, options: { name: "by_age" } },
  // repairHistory: only documents with events still in their outbox have the field.
  { collection: "runs", key: { "outbox.at": 1 }, options: { name: "outbox", sparse: true } },
  { collection: "executions", key: { "outbox.at": 1 }, options: { name: "outbox", sparse: true } },
  // Waits (waits.ts): a run's nodes waiting for a signal; approvals waiting, oldest first.
  {
    collection: "executions",
    key: { runId: 1, waitSignal: 1, status: 1 },
    options: { name: "by_signal", sparse: true },
  },
  {
    collection: "executions",
    key: { status: 1, waitKind: 1, updatedAt: 1, _id: 1 },
    options: { name: "by_wait", sparse: true },
  },
  // A run's open signals of one name in order; what a consumer took; what a crash left unsettled.
  {
    collection: "signals",
    key: { runId: 1, name: 1, state: 1, createdAt: 1, _id: 1 },
    options: { name: "open" },
  },
  { collection: "signals", key: { consumedBy: 1, state: 1 }, options: { name: "by_consumer" } },
  { collection: "signals", key: { state: 1, updatedAt: 1 }, options: { name: "unsettled" } },
  // listDeadLetters, newest first.
  { collection: "dead_letters", key: { createdAt: -1, _id: 1 }, options: { name: "newest" } },
];

/** Removes expired cache entries where the server can (getCached checks expiry anyway). */
const CACHE_TTL: IndexDefinition = {
  collection: "cache",
  key: { expireAt: 1 },
  options: { name: "expiry", expireAfterSeconds: 0 },
};

/** Removes history events past their retention where the server can (the sweeper deletes them anyway). */
const HISTORY_TTL: IndexDefinition = {
  collection: "history",
  key: { expireAt: 1 },
  options: { name: "expiry", expireAfterSeconds: 0 },
};

export async function ensureIndexes(db: Db): Promise<void> {
  for (const index of INDEXES) await db.collection(index.collection).createIndex(index.key, index.options);
  for (const ttl of [CACHE_TTL, HISTORY_TTL]) {
    try {
      await db.collection(ttl.collection).createIndex(ttl.key, ttl.options);
    } catch (error) {
      // FerretDB has no TTL indexes: expired entries are then deleted when read, or by the sweeper.
      if (!isNotImplemented(error)) throw error;
    }
  }
}
