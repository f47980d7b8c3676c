import { type ExecutionRecord, executionKey, LIVE_EXECUTION, TERMINAL_EXECUTION } from "../records.ts";
import { keysOf, updateKeys } from "./batches.ts";
import type { MongoConnection } from "./connection.ts";
import { type OutboxEntry, PENDING_STATE, type RunDocument, toExecution } from "./documents.ts";

/**
 * What touches many executions of a run, or of every run: rerun, the sweeper's
 * queries, cancellation, and finding interrupted finishes. Each is an updateMany
 * (or one ordered bulkWrite) and a few reads, never one round trip per execution.
 */

export async function resetExecutions(
  connection: MongoConnection,
  runId: string,
  nodeIds: readonly string[],
  depsDoneAfterReset: Readonly<Record<string, number>>,
  round: number,
): Promise<void> {
  const now = Date.now();
  const ids = [...nodeIds];
  // One ordered batch: reset the nodes, drop their items, uncount them as
  // dependencies (so that their next finish counts again), set the given counts.
  await connection.executions.bulkWrite(
    [
      {
        updateMany: {
          filter: { _id: { $in: ids.map((nodeId) => executionKey(runId, nodeId)) } },
          update: {
            $set: { ...PENDING_STATE, updatedAt: now, round },
            $unset: { startedAt: "", propagated: "" },
          },
        },
      },
      { deleteMany: { filter: { runId, nodeId: { $in: ids }, item: { $ne: null } } } },
      { updateMany: { filter: { runId, item: null }, update: { $pullAll: { doneDeps: ids } } } },
      ...Object.entries(depsDoneAfterReset).map(([nodeId, depsDone]) => ({
        updateOne: { filter: { _id: executionKey(runId, nodeId) }, update: { $set: { depsDone } } },
      })),
    ],
    { ordered: true },
  );
  await recountNodesDone(connection, runId, { failing: false });
}

export async function sweepExpiredLeases(
  connection: MongoConnection,
  now: number,
  limit: number,
  expiredBefore: number,
  outbox: readonly OutboxEntry[],
): Promise<string[]> {
  const expired = {
    status: "running",
    leaseToken: { $ne: null },
    leaseExpiresAt: { $lt: expiredBefore },
  } as const;
  const candidates = await keysOf(connection.executions, expired, { limit });
  return updateKeys(
    connection.executions,
    candidates,
    expired,
    // Due now: it waits in the queue from now, as far as the backlog's age goes.
    { status: "queued", leaseToken: null, leaseExpiresAt: null, notBefore: now, updatedAt: now },
    {},
    { leasesLost: 1 },
    outbox,
  );
}

export async function findStrandedExecutions(
  connection: MongoConnection,
  now: number,
  before: number,
  limit: number,
): Promise<string[]> {
  const stranded = { status: "queued", updatedAt: { $lt: before }, notBefore: { $lte: now } } as const;
  const candidates = await keysOf(connection.executions, stranded, { limit });
  // Marked as touched now, so the next sweep waits a full grace period again.
  return updateKeys(connection.executions, candidates, stranded, { updatedAt: now });
}

export async function cancelExecutions(
  connection: MongoConnection,
  runId: string,
  status: "cancelled" | "skipped",
  now: number,
  outbox: readonly OutboxEntry[],
): Promise<string[]> {
  const live = { runId, status: { $in: [...LIVE_EXECUTION] } };
  const candidates = await keysOf(connection.executions, live);
  const ended = await updateKeys(
    connection.executions,
    candidates,
    live,
    { status, leaseToken: null, leaseExpiresAt: null, finishedAt: now, updatedAt: now },
    {},
    {},
    outbox,
  );
  // Counted from the statuses rather than per execution: a finish racing this
  // may then count once more, which ends no run early (it is ending anyway).
  await recountNodesDone(connection, runId);
  return ended;
}

/**
 * The runs of executions whose finish has not propagated (their flag is still
 * set, see finish.ts) and that nobody touched since `before`: a finisher that
 * died between its transition and its propagation. Recovery reconciles them.
 */
export async function findUnpropagated(
  connection: MongoConnection,
  before: number,
  limit: number,
): Promise<ExecutionRecord[]> {
  const docs = await connection.executions
    .find({ propagated: false, updatedAt: { $lt: before } }, { limit })
    .toArray();
  return docs.map(toExecution);
}

/** Sets a run's nodesDone from its executions' statuses (and any other fields given). */
async function recountNodesDone(
  connection: MongoConnection,
  runId: string,
  set: Partial<RunDocument> = {},
): Promise<void> {
  const nodesDone = await connection.executions.countDocuments({
    runId,
    item: null,
    status: { $in: [...TERMINAL_EXECUTION] },
  });
  await connection.runs.updateOne({ _id: runId }, { $set: { ...set, nodesDone } });
}
