import type { HistoryEvent } from "../../history/events.ts";
import {
  cancelNote,
  claimNotes,
  deferNotes,
  isRetry,
  leaseLostNotes,
  queuedNote,
  rescheduleNotes,
  runCreatedNote,
  runNotes,
} from "../../history/notes.ts";
import { addCalls } from "../model-calls.ts";
import {
  type AttemptDetail,
  CALL_LATENCY_BOUNDS_MS,
  type DeadLetter,
  type DefinitionRecord,
  type ExecutionRecord,
  type ExecutionStatus,
  executionKey,
  type ModelCallSample,
  type ModelCalls,
  type NewRun,
  type Outcome,
  type RateSlot,
  type RunPatch,
  type RunRecord,
  type RunStatus,
} from "../records.ts";
import { RunInputs } from "../run-inputs.ts";
import type { FinishResult, HistoryQuery, Store } from "../store.ts";
import { keysOf, updateKeys } from "./batches.ts";
import { databaseOf, MongoConnection, VISIBLE } from "./connection.ts";
import { latestDefinition, listLatestDefinitions, registerDefinition } from "./definitions.ts";
import {
  type ExecutionDocument,
  jsonValue,
  newExecution,
  parse,
  type RunDocument,
  toDeadLetter,
  toDefinition,
  toExecution,
  toRun,
  toRunWithInput,
} from "./documents.ts";
import { finishExecution, readyDependents } from "./finish.ts";
import { DOCUMENT_SUBJECT, MongoHistory } from "./history.ts";
import { PropagationFlags } from "./propagation-flags.ts";
import { chargeRateTokens, takeRateSlot } from "./rate-limits.ts";
import {
  cancelExecutions,
  findStrandedExecutions,
  findUnpropagated,
  resetExecutions,
  sweepExpiredLeases,
} from "./recovery.ts";
import { isDuplicateKey, isDuplicatesOnly } from "./server-errors.ts";
import { MongoTriggers } from "./triggers.ts";
import { MongoWaits } from "./waits.ts";

/**
 * The production Store, on MongoDB (a replica set), or on a MongoDB-wire server
 * without transactions or change streams (FerretDB): it needs neither. A run is
 * one document and each execution (a node, a map item) another, so no document
 * grows with the plan; every transition is one conditional update of one
 * document (its expected status, and lease token, in the filter), and a finish
 * propagates as a few more, each safe on its own (finish.ts). Operations on
 * many executions are one updateMany each, plus a read or two, never a round
 * trip per execution (batches.ts, recovery.ts). What a server lacks is learned
 * at start and worked around in one place (server-traits.ts).
 */
export class MongoStore implements Store {
  readonly #db: MongoConnection;
  readonly #flags: PropagationFlags;
  readonly #history: MongoHistory;
  readonly waits: MongoWaits;
  readonly #inputs = new RunInputs();
  readonly triggers: MongoTriggers;

  /**
   * The database is `options.database`, else the URL's path (`mongodb://host/name`),
   * else "pflow". `historyRetentionMs` (default 30 days) dates each history event's
   * expiry, for the TTL index where the server has one.
   */
  constructor(url: string, options: { database?: string; historyRetentionMs?: number } = {}) {
    this.#db = new MongoConnection(url, options.database ?? databaseOf(url) ?? "pflow");
    this.#flags = new PropagationFlags(this.#db.executions);
    this.#history = new MongoHistory(this.#db, options.historyRetentionMs ?? 30 * 24 * 3_600_000);
    this.waits = new MongoWaits(this.#db, this.#history);
    this.triggers = new MongoTriggers(this.#db);
  }

  async start(): Promise<void> {
    await this.#db.open();
  }

  async close(): Promise<void> {
    await this.#flags.settle();
    await this.#db.close();
  }

  async ping(): Promise<void> {
    await this.#db.ping();
  }

  // Runs ------------------------------------------------------------------

  async createRun(run: NewRun, nodes: readonly string[]): Promise<RunRecord> {
    const doc: RunDocument = {
      _id: run.id,
      workflow: { name: run.workflow.name, version: run.workflow.version },
      status: "pending",
      input: jsonValue(run.input, () => `the input of run ${run.id}`),
      output: null,
      error: null,
      models: JSON.stringify(run.models),
      parent: run.parent,
      failing: false,
      nodesTotal: run.nodesTotal,
      nodesDone: 0,
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      cost: {},
      createdAt: run.createdAt,
      startedAt: null,
      finishedAt: null,
      deadline: run.deadline,
      round: 1,
      outbox: this.#history.entries([runCreatedNote(run.workflow, run.createdAt)], `run ${run.id}`),
    };
    const executions = nodes.map((nodeId) =>
      newExecution(executionKey(run.id, nodeId), run.id, nodeId, null, null, run.createdAt),
    );
    // The run and its executions concurrently; on a second call, what exists stays as it is.
    const [inserted] = await Promise.all([
      this.#db.runs.insertOne(doc).then(
        () => true,
        (error: unknown) => {
          if (isDuplicateKey(error)) return false;
          throw error;
        },
      ),
      this.#insertNew(executions),
    ]);
    await this.#history.drain("runs", [run.id]);
    if (inserted) return toRun({ ...doc, outbox: [] });
    return (await this.getRun(run.id)) as RunRecord;
  }

  /** One read: without the input when RunInputs has it, else with it (then kept there). */
  async getRun(id: string): Promise<RunRecord | null> {
    const input = this.#inputs.cached(id);
    const doc = await this.#db.runs.findOne(
      { _id: id },
      { projection: input ? { input: 0, outbox: 0 } : { outbox: 0 } },
    );
    if (!doc) return null;
    return toRunWithInput(doc, input ? input.value : this.#inputs.parse(id, doc.input));
  }

  async transitionRun(id: string, from: readonly RunStatus[], patch: RunPatch): Promise<RunRecord | null> {
    const set: Partial<RunDocument> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if ("output" in patch) set.output = jsonValue(patch.output, () => `the output of run ${id}`);
    if ("error" in patch) set.error = patch.error ?? null;
    if ("startedAt" in patch) set.startedAt = patch.startedAt ?? null;
    if ("finishedAt" in patch) set.finishedAt = patch.finishedAt ?? null;
    if ("deadline" in patch) set.deadline = patch.deadline ?? null;
    const filter = { _id: id, status: { $in: [...from] } };
    if (Object.keys(set).length === 0) {
      const found = await this.#db.runs.findOne(filter);
      return found ? toRun(found) : null;
    }
    const at = patch.finishedAt ?? patch.startedAt ?? Date.now();
    const outbox = this.#history.entries(runNotes(from, patch, at), `run ${id}`);
    const doc = await this.#db.runs.findOneAndUpdate(
      filter,
      {
        $set: set,
        ...(isRetry(from, patch) ? { $inc: { round: 1 } } : {}),
        ...(outbox.length > 0 ? { $push: { outbox: { $each: outbox } } } : {}),
      },
      { returnDocument: "after" },
    );
    if (!doc) return null;
    if (outbox.length > 0) await this.#history.drain("runs", [id]);
    return toRun(doc);
  }

  async markRunFailing(id: string): Promise<void> {
    await this.#db.runs.updateOne({ _id: id }, { $set: { failing: true } });
  }

  async listRuns(query: {
    workflow?: string;
    status?: RunStatus;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: RunRecord[]; next: string | null }> {
    // Newest first by (createdAt, id): a stable order, so the cursor (the last
    // run listed) resumes exactly after it, whatever was created meanwhile.
    const after = query.cursor ? /^(\d+):(.+)$/s.exec(query.cursor) : null;
    const docs = await this.#db.runs
      .find(
        {
          ...(query.workflow === undefined ? {} : { "workflow.name": query.workflow }),
          ...(query.status === undefined ? {} : { status: query.status }),
          ...(after
            ? {
                $or: [
                  { createdAt: { $lt: Number(after[1]) } },
                  { createdAt: Number(after[1]), _id: { $lt: after[2] as string } },
                ],
              }
            : {}),
        },
        { sort: { createdAt: -1, _id: -1 }, limit: query.limit + 1 },
      )
      .toArray();
    const items = docs.slice(0, query.limit).map(toRun);
    const last = docs.length > query.limit ? docs[query.limit - 1] : undefined;
    return { items, next: last ? `${last.createdAt}:${last._id}` : null };
  }

  async findOverdueRuns(now: number, limit: number): Promise<RunRecord[]> {
    const docs = await this.#db.runs
      .find({ status: "running", deadline: { $ne: null, $lt: now } }, { limit })
      .toArray();
    return docs.map(toRun);
  }

  async findUnfinishedRuns(limit: number): Promise<RunRecord[]> {
    const docs = await this.#db.runs
      .find({ status: { $in: ["pending", "running"] } }, { sort: { createdAt: 1, _id: 1 }, limit })
      .toArray();
    return docs.map(toRun);
  }

  // Executions ------------------------------------------------------------

  async getExecution(key: string): Promise<ExecutionRecord | null> {
    const doc = await this.#db.executions.findOne({ _id: key });
    return doc ? toExecution(doc) : null;
  }

  async getExecutions(
    runId: string,
    options: { nodeIds?: readonly string[]; items?: boolean } = {},
  ): Promise<ExecutionRecord[]> {
    const filter =
      options.nodeIds && !options.items
        ? { _id: { $in: options.nodeIds.map((nodeId) => executionKey(runId, nodeId)) } }
        : {
            runId,
            ...(options.nodeIds ? { nodeId: { $in: [...options.nodeIds] } } : {}),
            ...(options.items ? {} : { item: null }),
          };
    const docs = await this.#db.executions.find(filter, { sort: { nodeId: 1, item: 1 } }).toArray();
    return docs.map(toExecution);
  }

  async getItems(runId: string, nodeId: string): Promise<ExecutionRecord[]> {
    const docs = await this.#db.executions
      .find({ runId, nodeId, item: { $ne: null } }, { sort: { item: 1 } })
      .toArray();
    return docs.map(toExecution);
  }

  async queueExecutions(keys: readonly string[], now: number): Promise<string[]> {
    const queued = await updateKeys(
      this.#db.executions,
      [...new Set(keys)],
      { status: "pending" },
      { status: "queued", notBefore: now, updatedAt: now },
      VISIBLE,
      {},
      this.#history.entries([queuedNote(DOCUMENT_SUBJECT, now)], "queued executions"),
    );
    await this.#history.drain("executions", queued);
    return queued;
  }

  async claimExecution(
    key: string,
    lease: { token: string; until: number },
    now: number,
  ): Promise<ExecutionRecord | null> {
    const doc = await this.#db.executions.findOneAndUpdate(
      { _id: key, status: "queued", notBefore: { $lte: now } },
      {
        $set: { status: "running", leaseToken: lease.token, leaseExpiresAt: lease.until, updatedAt: now },
        $inc: { attempt: 1, attemptsTotal: 1 },
        // Set by the first claim only: the field is absent until then.
        $min: { startedAt: now },
        $push: { outbox: { $each: this.#history.entries(claimNotes(DOCUMENT_SUBJECT, now), key) } },
      },
      { returnDocument: "after", ...VISIBLE },
    );
    if (!doc) return null;
    // The document after the claim holds its entries: moved without reading it again.
    await this.#history.move("executions", [doc]);
    return toExecution({ ...doc, outbox: [] });
  }

  async renewLease(key: string, token: string, until: number): Promise<boolean> {
    const result = await this.#db.executions.updateOne(
      { _id: key, status: "running", leaseToken: token },
      { $set: { leaseExpiresAt: until } },
      VISIBLE,
    );
    return result.matchedCount === 1;
  }

  async rescheduleExecution(
    key: string,
    token: string,
    next: {
      notBefore: number;
      error: Outcome["error"];
      modelIndex?: number;
      fallbackModel?: string | null;
      attempt?: AttemptDetail;
    },
    now: number,
  ): Promise<boolean> {
    const result = await this.#db.executions.updateOne(
      { _id: key, status: "running", leaseToken: token },
      {
        $set: {
          ...backInQueue(next.notBefore, now),
          error: next.error ?? null,
          rateSlotAt: null,
          // At a fallback model, the attempts start again from 0 (attemptsTotal goes on).
          ...(next.modelIndex === undefined ? {} : { modelIndex: next.modelIndex, attempt: 0 }),
        },
        $push: {
          outbox: { $each: this.#history.entries(rescheduleNotes(DOCUMENT_SUBJECT, next, now), key) },
        },
      },
    );
    if (result.matchedCount !== 1) return false;
    await this.#history.drain("executions", [key]);
    return true;
  }

  async deferExecution(
    key: string,
    token: string,
    next: { notBefore: number; rateSlotAt: number | null },
    now: number,
  ): Promise<boolean> {
    const result = await this.#db.executions.updateOne(
      { _id: key, status: "running", leaseToken: token },
      {
        $set: { ...backInQueue(next.notBefore, now), rateSlotAt: next.rateSlotAt },
        // The claim handed back counts as no attempt.
        $inc: { attempt: -1, attemptsTotal: -1 },
        $push: {
          outbox: { $each: this.#history.entries(deferNotes(DOCUMENT_SUBJECT, next.notBefore, now), key) },
        },
      },
    );
    if (result.matchedCount !== 1) return false;
    await this.#history.drain("executions", [key]);
    return true;
  }

  async startWaiting(
    key: string,
    token: string,
    wait: { itemsTotal?: number; childRunId?: string; until?: number | null },
    now: number,
  ): Promise<boolean> {
    // A waiting execution holds no lease; leaseExpiresAt then keeps its own deadline, if any.
    const result = await this.#db.executions.updateOne(
      { _id: key, status: "running", leaseToken: token },
      {
        $set: {
          leaseToken: null,
          leaseExpiresAt: wait.until ?? null,
          updatedAt: now,
          ...(wait.itemsTotal === undefined ? {} : { itemsTotal: wait.itemsTotal }),
          ...(wait.childRunId === undefined ? {} : { childRunId: wait.childRunId }),
        },
      },
    );
    return result.matchedCount === 1;
  }

  async findOverdueWaiting(now: number, limit: number): Promise<ExecutionRecord[]> {
    const docs = await this.#db.executions
      .find(
        // A waiting execution holds no lease either (startWait clears it).
        {
          status: { $in: ["running", "waiting"] },
          leaseToken: null,
          leaseExpiresAt: { $ne: null, $lt: now },
        },
        { limit },
      )
      .toArray();
    return docs.map(toExecution);
  }

  async finishExecution(
    key: string,
    expect: { status: readonly ExecutionStatus[]; token?: string },
    outcome: Outcome,
    propagation: { dependents: readonly string[]; dependencyCounts: Readonly<Record<string, number>> },
    now: number,
  ): Promise<FinishResult | null> {
    return finishExecution(this.#db, this.#flags, this.#history, key, expect, outcome, propagation, now);
  }

  async createItems(runId: string, nodeId: string, items: readonly unknown[], now: number): Promise<void> {
    const map = await this.#db.executions.findOne(
      { _id: executionKey(runId, nodeId) },
      { projection: { round: 1 } },
    );
    await this.#insertNew(
      items.map((value, item) => {
        const key = executionKey(runId, nodeId, item);
        return newExecution(
          key,
          runId,
          nodeId,
          item,
          jsonValue(value, () => `the item ${key}`),
          now,
          map?.round ?? 1,
        );
      }),
    );
  }

  async queueNextItems(runId: string, nodeId: string, limit: number, now: number): Promise<string[]> {
    const queued: string[] = [];
    // A concurrent call may take some of the items this one found; it then looks
    // again for as many, so that it queues up to `limit` while items are pending.
    for (;;) {
      const wanted = limit - queued.length;
      const candidates = await keysOf(
        this.#db.executions,
        { runId, nodeId, status: "pending", item: { $ne: null } },
        { limit: wanted, sort: { item: 1 } },
      );
      const moved = await updateKeys(
        this.#db.executions,
        candidates,
        { status: "pending" },
        { status: "queued", notBefore: now, updatedAt: now },
        VISIBLE,
        {},
        this.#history.entries([queuedNote(DOCUMENT_SUBJECT, now)], `the items of ${nodeId}`),
      );
      await this.#history.drain("executions", moved);
      queued.push(...moved);
      if (moved.length === candidates.length) return queued;
    }
  }

  async resetExecutions(
    runId: string,
    nodeIds: readonly string[],
    depsDoneAfterReset: Readonly<Record<string, number>>,
    round: number,
  ): Promise<void> {
    // Events a dead writer left in the run's outboxes belong to the round that ends: moved first.
    const leftOver = await this.#db.executions
      .find({ runId, "outbox.at": { $exists: true } }, { projection: { _id: 1 } })
      .toArray();
    await this.#history.drain(
      "executions",
      leftOver.map((doc) => doc._id),
    );
    await this.#history.drain("runs", [runId]);
    await resetExecutions(this.#db, runId, nodeIds, depsDoneAfterReset, round);
  }

  async sweepExpiredLeases(now: number, limit: number, expiredBefore = now): Promise<string[]> {
    const swept = await sweepExpiredLeases(
      this.#db,
      now,
      limit,
      expiredBefore,
      this.#history.entries(leaseLostNotes(DOCUMENT_SUBJECT, now), "expired leases"),
    );
    await this.#history.drain("executions", swept);
    return swept;
  }

  async findStrandedExecutions(now: number, before: number, limit: number): Promise<string[]> {
    return findStrandedExecutions(this.#db, now, before, limit);
  }

  async cancelExecutions(runId: string, status: "cancelled" | "skipped", now: number): Promise<string[]> {
    const ended = await cancelExecutions(
      this.#db,
      runId,
      status,
      now,
      this.#history.entries([cancelNote(DOCUMENT_SUBJECT, status, now)], `run ${runId}`),
    );
    await this.#history.drain("executions", ended);
    return ended;
  }

  async oldestDueQueued(now: number): Promise<number | null> {
    const [oldest] = await this.#db.executions
      .find(
        { status: "queued", notBefore: { $lte: now } },
        { projection: { notBefore: 1 }, sort: { notBefore: 1 }, limit: 1 },
      )
      .toArray();
    return oldest ? oldest.notBefore : null;
  }

  /** Finishes interrupted before they propagated (see finish.ts), for recovery. */
  async findUnpropagated(before: number, limit: number): Promise<ExecutionRecord[]> {
    return findUnpropagated(this.#db, before, limit);
  }

  /** Step 2 of the finish again (guarded, so counting nothing twice), then step 4. */
  async resumePropagation(
    key: string,
    propagation: { dependents: readonly string[]; dependencyCounts: Readonly<Record<string, number>> },
  ): Promise<string[]> {
    const execution = await this.#db.executions.findOne(
      { _id: key },
      { projection: { runId: 1, nodeId: 1, item: 1 } },
    );
    if (!execution) return [];
    const ready =
      execution.item === null || execution.item === undefined
        ? await readyDependents(this.#db, execution.runId, execution.nodeId, propagation)
        : [];
    await this.#db.executions.updateOne({ _id: key, propagated: false }, { $unset: { propagated: "" } });
    return ready;
  }

  // History -----------------------------------------------------------------

  listHistory(runId: string, query: HistoryQuery): Promise<HistoryEvent[]> {
    return this.#history.list(runId, query);
  }

  deleteHistory(before: number, limit: number): Promise<number> {
    return this.#history.delete(before, limit);
  }

  repairHistory(before: number, limit: number): Promise<number> {
    return this.#history.repair(before, limit);
  }

  onHistory(listener: (runId: string) => void): () => void {
    return this.#history.listen(listener);
  }

  // Model call statistics ---------------------------------------------------

  // Rate limits ---------------------------------------------------------------

  takeRateSlot(key: string, intervalMs: number, now: number): Promise<RateSlot> {
    return takeRateSlot(this.#db.rateLimits, key, intervalMs, now);
  }

  chargeRateTokens(key: string, costMs: number, now: number): Promise<void> {
    return chargeRateTokens(this.#db.rateLimits, key, costMs, now);
  }

  async recordModelCalls(samples: readonly ModelCallSample[]): Promise<void> {
    if (samples.length === 0) return;
    // One upsert per sample, each an atomic $inc: processes add to the same minute.
    await this.#db.modelCalls.bulkWrite(
      samples.map((sample) => {
        const inc: Record<string, number> = {
          calls: sample.calls,
          errors: sample.errors,
          timeouts: sample.timeouts,
        };
        sample.latency.forEach((count, bucket) => {
          if (count > 0) inc[`latency.${bucket}`] = count;
        });
        return {
          updateOne: {
            filter: { _id: `${sample.model}|${sample.minute}` },
            update: { $inc: inc, $setOnInsert: { model: sample.model, minute: sample.minute } },
            upsert: true,
          },
        };
      }),
      { ordered: false },
    );
  }

  async modelCalls(models: readonly string[], since: number): Promise<Record<string, ModelCalls>> {
    const result: Record<string, ModelCalls> = {};
    if (models.length === 0) return result;
    const docs = await this.#db.modelCalls
      .find({ model: { $in: [...models] }, minute: { $gte: since } })
      .toArray();
    for (const doc of docs) {
      const latency = Array.from(
        { length: CALL_LATENCY_BOUNDS_MS.length + 1 },
        (_, i) => doc.latency?.[i] ?? 0,
      );
      const calls = { calls: doc.calls, errors: doc.errors, timeouts: doc.timeouts, latency };
      const seen = result[doc.model];
      result[doc.model] = seen ? addCalls(seen, calls) : calls;
    }
    return result;
  }

  // Result cache ------------------------------------------------------------

  async getCached(key: string, now: number): Promise<unknown | undefined> {
    const doc = await this.#db.cache.findOne({ _id: key });
    if (!doc) return undefined;
    if (doc.expiresAt !== null && doc.expiresAt <= now) {
      // A TTL index removes it later where the server has one; this is for those without.
      await this.#db.cache.deleteOne({ _id: key, expiresAt: { $lte: now } });
      return undefined;
    }
    return parse(doc.value);
  }

  async putCached(key: string, value: unknown, expiresAt: number | null): Promise<void> {
    await this.#db.cache.replaceOne(
      { _id: key },
      {
        value: jsonValue(value, () => `the cached value ${key}`),
        expiresAt,
        ...(expiresAt === null ? {} : { expireAt: new Date(expiresAt) }),
      },
      { upsert: true },
    );
  }

  // Definitions, idempotency, dead letters ----------------------------------

  async registerDefinition(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    now: number,
  ): Promise<{ record: DefinitionRecord; created: boolean }> {
    return (await registerDefinition(this.#db.definitions, definition, now)) as {
      record: DefinitionRecord;
      created: boolean;
    };
  }

  async registerDefinitionIfLatest(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    basedOn: number,
    now: number,
  ): Promise<{ record: DefinitionRecord; created: boolean } | null> {
    return registerDefinition(this.#db.definitions, definition, now, basedOn);
  }

  async getDefinition(
    kind: DefinitionRecord["kind"],
    name: string,
    version?: number,
  ): Promise<DefinitionRecord | null> {
    if (version === undefined) return latestDefinition(this.#db.definitions, kind, name);
    const doc = await this.#db.definitions.findOne({ kind, name, version });
    return doc ? toDefinition(doc) : null;
  }

  async listDefinitions(kind: DefinitionRecord["kind"]): Promise<DefinitionRecord[]> {
    return listLatestDefinitions(this.#db.definitions, kind);
  }

  async listDefinitionVersions(kind: DefinitionRecord["kind"], name: string): Promise<DefinitionRecord[]> {
    const docs = await this.#db.definitions.find({ kind, name }, { sort: { version: 1 } }).toArray();
    return docs.map(toDefinition);
  }

  async claimIdempotencyKey(key: string, runId: string, now: number): Promise<string> {
    try {
      await this.#db.idempotencyKeys.insertOne({ _id: key, runId, createdAt: now });
      return runId;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const existing = await this.#db.idempotencyKeys.findOne({ _id: key });
    return existing?.runId ?? runId;
  }

  async addDeadLetter(letter: DeadLetter): Promise<void> {
    await this.#db.deadLetters.replaceOne(
      { _id: letter.id },
      {
        executionKey: letter.executionKey,
        runId: letter.runId,
        nodeId: letter.nodeId,
        reason: letter.reason,
        deliveries: letter.deliveries,
        createdAt: letter.createdAt,
      },
      { upsert: true },
    );
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    const docs = await this.#db.deadLetters.find({}, { sort: { createdAt: -1, _id: 1 }, limit }).toArray();
    return docs.map(toDeadLetter);
  }

  async takeDeadLetter(id: string): Promise<DeadLetter | null> {
    const doc = await this.#db.deadLetters.findOneAndDelete({ _id: id });
    return doc ? toDeadLetter(doc) : null;
  }

  // Internals ------------------------------------------------------------

  /** Inserts executions; those that exist already (createRun, createItems again) stay as they are. */
  async #insertNew(executions: ExecutionDocument[]): Promise<void> {
    if (executions.length === 0) return;
    try {
      await this.#db.executions.insertMany(executions, { ordered: false });
    } catch (error) {
      if (!isDuplicatesOnly(error)) throw error;
    }
  }
}

/** A running execution handed back to the queue, lease dropped, due at `notBefore`. */
function backInQueue(notBefore: number, now: number) {
  return { status: "queued", leaseToken: null, leaseExpiresAt: null, notBefore, updatedAt: now } as const;
}
