import type { UpdateFilter } from "mongodb";
import { finishNotes } from "../../history/notes.ts";
import { type ExecutionStatus, executionKey, type Outcome } from "../records.ts";
import type { FinishResult } from "../store.ts";
import type { MongoConnection } from "./connection.ts";
import { type ExecutionDocument, jsonValue, type OutboxEntry, type RunDocument } from "./documents.ts";
import { DOCUMENT_SUBJECT, type MongoHistory } from "./history.ts";
import type { PropagationFlags } from "./propagation-flags.ts";

/**
 * finishExecution without transactions: the transition, then its propagation,
 * each one conditional update on one document.
 *
 * 1. The transition: a findOneAndUpdate of the execution, conditional on its
 *    status (and lease token when given), that records the outcome and sets
 *    `propagated: false`. Of several callers finishing one execution (a duplicate
 *    delivery, a late worker, a waiting node's finisher) exactly one matches;
 *    the others get null and do nothing more. So only the winner propagates,
 *    and no count is ever doubled by a live caller.
 * 2. The dependents (a node of the plan): one findOneAndUpdate per dependent,
 *    guarded by `doneDeps: {$ne: nodeId}` and adding nodeId to doneDeps as it
 *    increments depsDone, so an edge counts once even if replayed. The document
 *    after the update tells this call whether ITS increment brought depsDone to
 *    the plan's count: only then, and only if the dependent is still pending,
 *    is it ready. Of eight parents finishing at once, exactly one sees the
 *    count reach eight.
 * 3. The run: one findOneAndUpdate adding to nodesDone, the usage and the cost
 *    by currency (and setting failing when the outcome fails the run); the
 *    document after tells whether this was the run's last node, so exactly one
 *    finisher reports the run complete. A map item counts towards its map
 *    node's itemsDone instead (each caller sees the count its own increment
 *    made), and updates the run only for usage, cost or failing.
 * 4. The flag is cleared, batched with other finishes (PropagationFlags).
 *
 * Steps 2 and 3 touch different documents and run concurrently. A crash (or
 * a failed write) between steps 1 and 4 leaves the flag set: findUnpropagated
 * finds those runs, and recovery reconciles them from their executions'
 * statuses, which the port says it relies on rather than on counts. (Counters are not replayed: nodesDone
 * and itemsDone have no per-finish guard, which would grow the run or map
 * document with every node or item.)
 *
 * Round trips for a finished node of the plan: 1 (the transition), then
 * concurrently 1 for the run and 1 per dependent: 2 + dependents in all, 2 in
 * sequence; plus a share of one batched update for step 4. For a map item:
 * 1 + 1 (its map node), and 1 more, concurrent, if it has usage, a cost or fails
 * the run. No transaction, no read before a write; all of it rests on one
 * update of one document being atomic (FerretDB 1.x: see server-traits.ts).
 */
export async function finishExecution(
  connection: MongoConnection,
  flags: PropagationFlags,
  history: MongoHistory,
  key: string,
  expect: { status: readonly ExecutionStatus[]; token?: string },
  outcome: Outcome,
  propagation: { dependents: readonly string[]; dependencyCounts: Readonly<Record<string, number>> },
  now: number,
): Promise<FinishResult | null> {
  const output = jsonValue(outcome.output ?? null, () => `the output of execution ${key}`);
  function transition(
    statuses: readonly ExecutionStatus[],
    outbox: OutboxEntry[],
  ): Promise<Pick<ExecutionDocument, "runId" | "nodeId" | "item" | "round" | "attemptsTotal"> | null> {
    return connection.executions.findOneAndUpdate(
      {
        _id: key,
        status: { $in: [...statuses] },
        ...(expect.token === undefined ? {} : { leaseToken: expect.token }),
      },
      {
        $set: {
          status: outcome.status,
          output,
          error: outcome.error ?? null,
          cached: outcome.cached === true,
          usage: outcome.usage ?? null,
          cost: outcome.cost ?? null,
          leaseToken: null,
          leaseExpiresAt: null,
          finishedAt: now,
          updatedAt: now,
          propagated: false,
          // A finish that names no model keeps the one recorded (a waiting node's, say).
          ...(outcome.model ? { model: outcome.model } : {}),
        },
        $push: { outbox: { $each: outbox } },
      },
      connection.returning("before", { runId: 1, nodeId: 1, item: 1, round: 1, attemptsTotal: 1 }),
    );
  }

  // Its events depend on the status it leaves (a running execution's attempt
  // ends with it), so a finish from several statuses tries running first.
  const running = expect.status.includes("running");
  const groups: ExecutionStatus[][] = running
    ? [["running"], expect.status.filter((status) => status !== "running")]
    : [[...expect.status]];
  let finished: Pick<ExecutionDocument, "runId" | "nodeId" | "item" | "round" | "attemptsTotal"> | null =
    null;
  let entries: OutboxEntry[] = [];
  for (const statuses of groups) {
    if (statuses.length === 0 || finished) continue;
    const before = statuses[0] === "running" || statuses[0] === "waiting" ? statuses[0] : "queued";
    entries = history.entries(finishNotes(DOCUMENT_SUBJECT, before, outcome, now), key);
    finished = await transition(statuses, entries);
  }
  if (!finished) return null;
  const { runId, nodeId, item } = finished;
  // Its own entries, moved without reading the execution back (round and attempt are as before the finish).
  const drained = history.move("executions", [{ ...finished, _id: key, outbox: entries }]);

  const runUpdate = runCounting(outcome, item === null);
  let result: FinishResult;
  if (item === null) {
    const [ready, run] = await Promise.all([
      readyDependents(connection, runId, nodeId, propagation),
      connection.runs.findOneAndUpdate(
        { _id: runId },
        runUpdate,
        connection.returning("after", { nodesDone: 1, nodesTotal: 1 }),
      ),
      drained,
    ]);
    result = { ready, runComplete: run !== null && run.nodesDone >= run.nodesTotal, items: null };
  } else {
    const [map] = await Promise.all([
      connection.executions.findOneAndUpdate(
        { _id: executionKey(runId, nodeId) },
        { $inc: { itemsDone: 1 } },
        connection.returning("after", { itemsDone: 1, itemsTotal: 1 }),
      ),
      Object.keys(runUpdate).length > 0 ? connection.runs.updateOne({ _id: runId }, runUpdate) : null,
      drained,
    ]);
    result = {
      ready: [],
      runComplete: false,
      items: map ? { done: map.itemsDone, total: map.itemsTotal } : null,
    };
  }
  flags.clear(key);
  return result;
}

/** Step 2: counts the finished node once for each dependent; returns those it made ready. */
export async function readyDependents(
  connection: MongoConnection,
  runId: string,
  nodeId: string,
  propagation: { dependents: readonly string[]; dependencyCounts: Readonly<Record<string, number>> },
): Promise<string[]> {
  const counted = await Promise.all(
    propagation.dependents.map((dependent) =>
      connection.executions.findOneAndUpdate(
        { _id: executionKey(runId, dependent), doneDeps: { $ne: nodeId } },
        { $addToSet: { doneDeps: nodeId }, $inc: { depsDone: 1 } },
        connection.returning("after", { status: 1, depsDone: 1 }),
      ),
    ),
  );
  return propagation.dependents.filter((dependent, index) => {
    const after = counted[index];
    return after?.status === "pending" && after.depsDone === propagation.dependencyCounts[dependent];
  });
}

/** Step 3's update of the run: its usage, cost and failing, and for a node of the plan its nodesDone. */
function runCounting(outcome: Outcome, countsAsNode: boolean): UpdateFilter<RunDocument> {
  const inc: Record<string, number> = countsAsNode ? { nodesDone: 1 } : {};
  if (outcome.usage) {
    inc["usage.inputTokens"] = outcome.usage.inputTokens;
    inc["usage.outputTokens"] = outcome.usage.outputTokens;
    inc["usage.totalTokens"] = outcome.usage.totalTokens;
  }
  if (outcome.cost) inc[`cost.${outcome.cost.currency}`] = outcome.cost.amount;
  return {
    ...(Object.keys(inc).length > 0 ? { $inc: inc } : {}),
    ...(outcome.failsRun ? { $set: { failing: true } } : {}),
  };
}
