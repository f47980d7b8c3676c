import { randomUUID } from "node:crypto";
import type { Filter, UpdateFilter } from "mongodb";
import { finishNotes } from "../../history/notes.ts";
import { type ExecutionStatus, executionKey, type Outcome } from "../records.ts";
import type { FinishResult } from "../store.ts";
import type { MongoConnection } from "./connection.ts";
import { type ExecutionDocument, jsonValue, type OutboxEntry, type RunDocument } from "./documents.ts";
import { DOCUMENT_SUBJECT, type MongoHistory } from "./history.ts";
import type { LazyWrites } from "./lazy-writes.ts";
import { TurnBatch } from "./turn-batch.ts";

/**
 * finishExecution without transactions: the transition, then its propagation,
 * each a conditional update of one document, and the finishes of one turn of
 * the event loop done together (Finishes).
 *
 * 1. The transition: an update of the execution, conditional on its status
 *    (and lease token when given), that records the outcome and sets
 *    `propagated: false`. Of several callers finishing one execution (a duplicate
 *    delivery, a late worker, a waiting node's finisher) exactly one matches;
 *    the others get null and do nothing more. So only the winner propagates,
 *    and no count is ever doubled by a live caller. One finish alone is a
 *    findOneAndUpdate; several are one bulkWrite, each update tagging the
 *    execution with its caller's own tag (`finishedBy`), and one read: a
 *    caller won if its tag is there.
 * 2. The dependents (a node of the plan): each dependent counts the finished
 *    dependencies, guarded by `doneDeps` (an edge counts once even if
 *    replayed) and tagged (`countedBy`), so exactly one counter sees the count
 *    reach the plan's: of eight parents finishing at once, one reports the
 *    join ready (countDependents).
 * 3. The run: its nodesDone, usage, cost and failing in one update per run,
 *    the callers told the counts as if one after the other, so exactly one
 *    reports the run complete. A map item counts towards its map node's
 *    itemsDone instead (the same way), and updates the run only for usage,
 *    cost or failing.
 * 4. The flag is cleared, lazily (lazy-writes.ts), with the outbox's tidying.
 *
 * Steps 2 and 3 touch different documents and run concurrently. A crash (or
 * a failed write) between steps 1 and 4 leaves the flag set: findUnpropagated
 * finds those runs, and recovery reconciles them from their executions'
 * statuses, which the port says it relies on rather than on counts. (Counters
 * are not replayed: nodesDone and itemsDone have no per-finish guard, which
 * would grow the run or map document with every node or item.)
 *
 * Round trips for a batch of finishes: 1 (one finish) or 2 (the bulkWrite and
 * its read), then concurrently: for the dependents 1 (one dependent: a
 * findOneAndUpdate; several, each counted whole here: a bulkWrite) or 2 (a
 * bulkWrite and its read), 1 per run (one run: a findOneAndUpdate) or 2 (a
 * bulkWrite and its read), 1 per map node; plus a share of one lazy update.
 * No transaction; all of it rests on one update of one document being atomic
 * (FerretDB 1.x: see server-traits.ts).
 */
/** One caller's finish, as the Store port takes it. */
export interface FinishRequest {
  readonly key: string;
  readonly expect: { readonly status: readonly ExecutionStatus[]; readonly token?: string };
  readonly outcome: Outcome;
  readonly propagation: Propagation;
  readonly now: number;
}

type Propagation = {
  readonly dependents: readonly string[];
  readonly dependencyCounts: Readonly<Record<string, number>>;
};

/** A status group to finish from, with the events a finish from it records. */
interface Try {
  readonly statuses: ExecutionStatus[];
  readonly entries: OutboxEntry[];
}

/** A finish checked and made ready to send: its output as stored, and what it tries, in order. */
interface Prepared extends FinishRequest {
  readonly output: string;
  readonly tries: readonly Try[];
}

/** What step 1 tells of an execution it finished (round and attempt are as before the finish). */
type Finished = Pick<ExecutionDocument, "runId" | "nodeId" | "item" | "round" | "attemptsTotal">;

/**
 * The finishes of one turn of the event loop, done together (TurnBatch): each
 * step is one command for the whole batch where it can be, and each caller
 * gets what it would have got alone (see the class comment above, and the
 * batched steps below).
 */
export class Finishes {
  readonly #db: MongoConnection;
  readonly #lazy: LazyWrites;
  readonly #history: MongoHistory;
  readonly #batch = new TurnBatch<Prepared, FinishResult | null>((requests) => this.#finish(requests));

  constructor(db: MongoConnection, lazy: LazyWrites, history: MongoHistory) {
    this.#db = db;
    this.#lazy = lazy;
    this.#history = history;
  }

  /**
   * What can refuse a finish (an output or an event too large for a document)
   * is checked here, in the caller's own call, so it refuses that finish only,
   * never the batch it would have joined.
   */
  finish(request: FinishRequest): Promise<FinishResult | null> {
    const output = jsonValue(request.outcome.output ?? null, () => `the output of execution ${request.key}`);
    const tries = statusGroups(request.expect.status).map((statuses) => ({
      statuses,
      entries: this.#entries(request, statuses),
    }));
    return this.#batch.add({ ...request, output, tries });
  }

  async #finish(requests: readonly Prepared[]): Promise<Array<FinishResult | null>> {
    const done =
      requests.length === 1
        ? [await this.#transition(requests[0] as Prepared)]
        : await this.#transitions(requests);
    const winners = done.flatMap((finished, index) =>
      finished ? [{ request: requests[index] as Prepared, index, ...finished }] : [],
    );
    if (winners.length === 0) return done.map(() => null);
    // Their own entries, moved without reading the executions back.
    const drained = this.#history.move(
      "executions",
      winners.map(({ request, doc, entries }) => ({ ...doc, _id: request.key, outbox: entries })),
    );
    const nodes = winners.filter((winner) => winner.doc.item === null);
    const items = winners.filter((winner) => winner.doc.item !== null);
    const [ready, complete, maps] = await Promise.all([
      countDependents(
        this.#db,
        nodes.map(({ request, doc, index }) => ({ index, runId: doc.runId, nodeId: doc.nodeId, request })),
      ),
      countRuns(this.#db, winners),
      countItems(this.#db, items),
      drained,
    ]);
    for (const { request } of winners) this.#lazy.propagated(request.key);
    return done.map((finished, index) => {
      if (!finished) return null;
      return {
        ready: ready.get(index) ?? [],
        runComplete: complete.has(index),
        items: finished.doc.item === null ? null : (maps.get(index) ?? null),
      };
    });
  }

  /**
   * Step 1 for one execution: a findOneAndUpdate that returns the execution as
   * it was. Its events depend on the status it leaves (a running execution's
   * attempt ends with it), so a finish from several statuses tries running first.
   */
  async #transition(
    request: Prepared,
    tries = request.tries,
  ): Promise<{ doc: Finished; entries: OutboxEntry[] } | null> {
    for (const { statuses, entries } of tries) {
      const doc = await this.#db.executions.findOneAndUpdate(
        transitionFilter(request, statuses),
        transitionUpdate(request, entries, null),
        this.#db.returning("before", { runId: 1, nodeId: 1, item: 1, round: 1, attemptsTotal: 1 }),
      );
      if (doc) return { doc, entries };
    }
    return null;
  }

  /**
   * Step 1 for several executions: one bulkWrite of the same conditional
   * updates, each tagging what it changed with a tag of its own
   * (`finishedBy`), then one read of the executions: a caller won if its tag
   * is there. Of two finishes of one execution (in this batch or another
   * process), exactly one matched, and only its tag is on the document. A
   * caller that lost with statuses left to try (running first, then the rest)
   * tries those alone.
   */
  async #transitions(
    requests: readonly Prepared[],
  ): Promise<Array<{ doc: Finished; entries: OutboxEntry[] } | null>> {
    const batch = randomUUID();
    await this.#db.executions.bulkWrite(
      requests.map((request, index) => {
        const [first] = request.tries as [Try];
        return {
          updateOne: {
            filter: transitionFilter(request, first.statuses),
            update: transitionUpdate(request, first.entries, `${batch}.${index}`),
          },
        };
      }),
      { ordered: false },
    );
    const docs = await this.#db.executions
      .find(
        { _id: { $in: [...new Set(requests.map((request) => request.key))] } },
        { projection: { runId: 1, nodeId: 1, item: 1, round: 1, attemptsTotal: 1, finishedBy: 1 } },
      )
      .toArray();
    const byKey = new Map(docs.map((doc) => [doc._id, doc]));
    return Promise.all(
      requests.map(async (request, index) => {
        const doc = byKey.get(request.key);
        if (doc?.finishedBy === `${batch}.${index}`) return { doc, entries: request.tries[0]?.entries ?? [] };
        return request.tries.length < 2 ? null : this.#transition(request, request.tries.slice(1));
      }),
    );
  }

  #entries(request: FinishRequest, statuses: readonly ExecutionStatus[]): OutboxEntry[] {
    const before = statuses[0] === "running" || statuses[0] === "waiting" ? statuses[0] : "queued";
    return this.#history.entries(
      finishNotes(DOCUMENT_SUBJECT, before, request.outcome, request.now),
      request.key,
    );
  }
}

/** The statuses a finish tries, in order: running alone first (its attempt ends with it), then the rest. */
function statusGroups(statuses: readonly ExecutionStatus[]): ExecutionStatus[][] {
  if (!statuses.includes("running")) return [[...statuses]];
  const others = statuses.filter((status) => status !== "running");
  return others.length > 0 ? [["running"], others] : [["running"]];
}

function transitionFilter(
  request: FinishRequest,
  statuses: readonly ExecutionStatus[],
): Filter<ExecutionDocument> {
  return {
    _id: request.key,
    status: { $in: [...statuses] },
    ...(request.expect.token === undefined ? {} : { leaseToken: request.expect.token }),
  };
}

function transitionUpdate(
  request: Prepared,
  entries: OutboxEntry[],
  tag: string | null,
): UpdateFilter<ExecutionDocument> {
  const { outcome, now, output } = request;
  return {
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
      ...(tag === null ? {} : { finishedBy: tag }),
      // A finish that names no model keeps the one recorded (a waiting node's, say).
      ...(outcome.model ? { model: outcome.model } : {}),
    },
    $push: { outbox: { $each: entries } },
  };
}

/** An edge to count: a finished node of the plan, for one of its dependents. */
interface Edge {
  readonly index: number;
  readonly runId: string;
  readonly nodeId: string;
  readonly request: FinishRequest;
}

/**
 * Step 2 for a batch: each pending dependent counts the batch's finished
 * dependencies in one update, guarded by `doneDeps: {$nin: …}` and tagged
 * (`countedBy`):
 * one findOneAndUpdate when the batch has one dependent, else one bulkWrite
 * and (unless each dependent counted all of its dependencies here and every
 * update matched: then each went from none to all, and is ready) one read,
 * where a dependent is this batch's to judge only if its tag is
 * still there (a later counter's tag means the later counter judges it, with
 * a count that includes this one). A dependent whose guard refused (one of the
 * dependencies counted already, by a replay) or whose tag is gone is counted
 * edge by edge (readyDependents), each edge once. Returns, by caller, the
 * dependents made ready: each reported to one caller only.
 */
async function countDependents(
  connection: MongoConnection,
  edges: readonly Edge[],
): Promise<Map<number, string[]>> {
  const dependents = new Map<string, { runId: string; dependent: string; count: number; edges: Edge[] }>();
  for (const edge of edges) {
    for (const dependent of edge.request.propagation.dependents) {
      const key = executionKey(edge.runId, dependent);
      const group = dependents.get(key) ?? {
        runId: edge.runId,
        dependent,
        count: edge.request.propagation.dependencyCounts[dependent] ?? 0,
        edges: [],
      };
      group.edges.push(edge);
      dependents.set(key, group);
    }
  }
  const ready = new Map<number, string[]>();
  const report = (index: number, dependent: string) =>
    ready.set(index, [...(ready.get(index) ?? []), dependent]);
  if (dependents.size === 0) return ready;
  const tag = randomUUID();
  const update = (nodes: string[]) => ({
    $addToSet: { doneDeps: { $each: nodes } },
    $inc: { depsDone: nodes.length },
    $set: { countedBy: tag },
  });
  // Pending only: a dependent that is not (cancelled, say) is counted edge by edge, and never ready.
  const filter = (key: string, nodes: string[]) => ({
    _id: key,
    status: "pending" as const,
    doneDeps: { $nin: nodes },
  });
  let after: Map<string, Pick<ExecutionDocument, "status" | "depsDone"> | null>;
  if (dependents.size === 1) {
    const [[key, group]] = [...dependents] as [
      [string, typeof dependents extends Map<string, infer G> ? G : never],
    ];
    const nodes = group.edges.map((edge) => edge.nodeId);
    const doc = await connection.executions.findOneAndUpdate(
      filter(key, nodes),
      update(nodes),
      connection.returning("after", { status: 1, depsDone: 1 }),
    );
    after = new Map([[key, doc]]);
  } else {
    const result = await connection.executions.bulkWrite(
      [...dependents].map(([key, group]) => {
        const nodes = group.edges.map((edge) => edge.nodeId);
        return { updateOne: { filter: filter(key, nodes), update: update(nodes) } };
      }),
      { ordered: false },
    );
    // Every dependent counted every one of its dependencies in this batch (a root's
    // dependents, say), and every guard let it: each went from none to all, so is ready.
    const whole = [...dependents.values()].every((group) => group.edges.length === group.count);
    if (whole && result.modifiedCount === dependents.size) {
      after = new Map(
        [...dependents].map(([key, group]) => [key, { status: "pending" as const, depsDone: group.count }]),
      );
    } else {
      after = await countedByThisBatch(connection, [...dependents.keys()], tag);
    }
  }
  await Promise.all(
    [...dependents].map(async ([key, group]) => {
      const doc = after.get(key);
      const last = group.edges[group.edges.length - 1] as Edge;
      if (doc) {
        if (doc.status === "pending" && doc.depsDone === group.count) report(last.index, group.dependent);
        return;
      }
      // Edge by edge: the counts this batch could not judge.
      for (const edge of group.edges) {
        const made = await readyDependents(connection, edge.runId, edge.nodeId, {
          dependents: [group.dependent],
          dependencyCounts: { [group.dependent]: group.count },
        });
        for (const dependent of made) report(edge.index, dependent);
      }
    }),
  );
  return ready;
}

/** The dependents' counts as this batch left them: those whose tag is still this batch's. */
async function countedByThisBatch(
  connection: MongoConnection,
  keys: readonly string[],
  tag: string,
): Promise<Map<string, Pick<ExecutionDocument, "status" | "depsDone">>> {
  const docs = await connection.executions
    .find({ _id: { $in: [...keys] } }, { projection: { status: 1, depsDone: 1, countedBy: 1 } })
    .toArray();
  return new Map(docs.filter((doc) => doc.countedBy === tag).map((doc) => [doc._id, doc]));
}

/**
 * Step 3 for a batch, the runs: the finished nodes of a run counted in one
 * update (with their usage, cost, failing), as if one after the other: of the
 * callers, the one whose count reaches nodesTotal reports the run complete.
 * One findOneAndUpdate for one run; for several, one bulkWrite and one read,
 * where a run is this batch's to judge only if its tag (`countedBy`) is still
 * there: a later counter's tag means the later counter saw a count that
 * includes this batch's. A map item counts towards the run only for usage,
 * cost or failing. Returns the callers that completed their run.
 */
async function countRuns(
  connection: MongoConnection,
  winners: ReadonlyArray<{ index: number; request: FinishRequest; doc: Finished }>,
): Promise<Set<number>> {
  const runs = new Map<string, { nodes: number[]; updates: UpdateFilter<RunDocument>[] }>();
  for (const { index, request, doc } of winners) {
    const isNode = doc.item === null;
    const update = runCounting(request.outcome, isNode);
    if (!isNode && Object.keys(update).length === 0) continue;
    const group = runs.get(doc.runId) ?? { nodes: [], updates: [] };
    if (isNode) group.nodes.push(index);
    group.updates.push(update);
    runs.set(doc.runId, group);
  }
  const complete = new Set<number>();
  if (runs.size === 0) return complete;
  const tag = randomUUID();
  const merged = new Map(
    [...runs].map(([runId, group]) => [
      runId,
      mergeUpdates(group.updates, group.nodes.length > 0 ? tag : null),
    ]),
  );
  const judge = (group: { nodes: number[] }, doc: Pick<RunDocument, "nodesDone" | "nodesTotal">) => {
    group.nodes.forEach((index, position) => {
      if (doc.nodesDone - group.nodes.length + 1 + position >= doc.nodesTotal) complete.add(index);
    });
  };
  if (runs.size === 1) {
    const [[runId, group]] = [...runs] as [
      [string, { nodes: number[]; updates: UpdateFilter<RunDocument>[] }],
    ];
    const doc = await connection.runs.findOneAndUpdate(
      { _id: runId },
      merged.get(runId) as UpdateFilter<RunDocument>,
      connection.returning("after", { nodesDone: 1, nodesTotal: 1 }),
    );
    if (doc) judge(group, doc);
    return complete;
  }
  await connection.runs.bulkWrite(
    [...merged].map(([runId, update]) => ({ updateOne: { filter: { _id: runId }, update } })),
    { ordered: false },
  );
  const counted = [...runs].filter(([, group]) => group.nodes.length > 0).map(([runId]) => runId);
  if (counted.length === 0) return complete;
  const docs = await connection.runs
    .find({ _id: { $in: counted } }, { projection: { nodesDone: 1, nodesTotal: 1, countedBy: 1 } })
    .toArray();
  for (const doc of docs) {
    const group = runs.get(doc._id);
    if (group && doc.countedBy === tag) judge(group, doc);
  }
  return complete;
}

/**
 * Step 3 for a batch, the maps: each map node counts its finished items in
 * one findOneAndUpdate, and each item is told the count as if the items had
 * counted one after the other, so exactly one sees the last.
 */
async function countItems(
  connection: MongoConnection,
  items: ReadonlyArray<{ index: number; doc: Finished }>,
): Promise<Map<number, { done: number; total: number }>> {
  const maps = new Map<string, number[]>();
  for (const { index, doc } of items) {
    const key = executionKey(doc.runId, doc.nodeId);
    maps.set(key, [...(maps.get(key) ?? []), index]);
  }
  const counts = new Map<number, { done: number; total: number }>();
  await Promise.all(
    [...maps].map(async ([key, indexes]) => {
      const map = await connection.executions.findOneAndUpdate(
        { _id: key },
        { $inc: { itemsDone: indexes.length } },
        connection.returning("after", { itemsDone: 1, itemsTotal: 1 }),
      );
      if (!map) return;
      indexes.forEach((index, position) => {
        counts.set(index, { done: map.itemsDone - indexes.length + 1 + position, total: map.itemsTotal });
      });
    }),
  );
  return counts;
}

/** The updates of one run's finishes as one: increments added, failing kept, tagged when it counts nodes. */
function mergeUpdates(
  updates: readonly UpdateFilter<RunDocument>[],
  tag: string | null,
): UpdateFilter<RunDocument> {
  const inc: Record<string, number> = {};
  const set: Record<string, unknown> = tag === null ? {} : { countedBy: tag };
  for (const update of updates) {
    for (const [field, amount] of Object.entries((update.$inc ?? {}) as Record<string, number>))
      inc[field] = (inc[field] ?? 0) + amount;
    Object.assign(set, update.$set ?? {});
  }
  return {
    ...(Object.keys(inc).length > 0 ? { $inc: inc } : {}),
    ...(Object.keys(set).length > 0 ? { $set: set } : {}),
  };
}

/** Step 2 edge by edge: counts the finished node once for each dependent; returns those it made ready. */
export async function readyDependents(
  connection: MongoConnection,
  runId: string,
  nodeId: string,
  propagation: Propagation,
): Promise<string[]> {
  const counted = await Promise.all(
    propagation.dependents.map((dependent) =>
      connection.executions.findOneAndUpdate(
        { _id: executionKey(runId, dependent), doneDeps: { $ne: nodeId } },
        // Tagged as a batch's count is, so that a batch whose tag this replaces leaves the judging to this one.
        { $addToSet: { doneDeps: nodeId }, $inc: { depsDone: 1 }, $set: { countedBy: randomUUID() } },
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
