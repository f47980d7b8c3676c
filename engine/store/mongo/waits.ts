import { waitingNote } from "../../history/notes.ts";
import type { ExecutionRecord, NewSignal, SignalRecord, WaitKind } from "../records.ts";
import { decodeCursor, encodeCursor } from "../wait-cursor.ts";
import type { WaitStore } from "../waits.ts";
import type { MongoConnection } from "./connection.ts";
import { jsonValue, parse, type SignalDocument, toExecution } from "./documents.ts";
import { DOCUMENT_SUBJECT, type MongoHistory } from "./history.ts";
import { isDuplicateKey } from "./server-errors.ts";

/**
 * The MongoDB store's waits and signals, without transactions: each step is
 * one conditional update of one document. A signal is taken by one execution
 * (its `state`/`consumedBy` in the filter), an execution bound to one signal
 * (`signalId: null` in the filter); a deliverer that dies between the steps
 * leaves the signal `consumed`, which the sweeper finds (findUnsettledSignals)
 * and delivers again (engine/waits/signals.ts).
 */
export class MongoWaits implements WaitStore {
  readonly #db: MongoConnection;
  readonly #history: MongoHistory;

  constructor(db: MongoConnection, history: MongoHistory) {
    this.#db = db;
    this.#history = history;
  }

  async startWait(
    key: string,
    token: string,
    wait: { kind: WaitKind; signal: string | null; until: number | null },
    now: number,
  ): Promise<boolean> {
    const entries = this.#history.entries([waitingNote(DOCUMENT_SUBJECT, wait, now)], key);
    const result = await this.#db.executions.updateOne(
      { _id: key, status: "running", leaseToken: token },
      {
        $set: {
          status: "waiting",
          leaseToken: null,
          // The timer, as for a waiting map or workflow node.
          leaseExpiresAt: wait.until,
          waitKind: wait.kind,
          waitSignal: wait.signal,
          signalId: null,
          updatedAt: now,
        },
        $push: { outbox: { $each: entries } },
      },
    );
    if (result.matchedCount !== 1) return false;
    await this.#history.drain("executions", [key]);
    return true;
  }

  async findWaitingForSignal(runId: string, name: string): Promise<ExecutionRecord[]> {
    const docs = await this.#db.executions
      .find({ runId, waitSignal: name, status: "waiting" }, { sort: { updatedAt: 1, _id: 1 } })
      .toArray();
    return docs.map(toExecution);
  }

  async listWaiting(query: {
    kind: WaitKind;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: ExecutionRecord[]; next: string | null }> {
    const after = decodeCursor(query.cursor);
    const docs = await this.#db.executions
      .find(
        {
          status: "waiting",
          waitKind: query.kind,
          $or: [{ updatedAt: { $gt: after.at } }, { updatedAt: after.at, _id: { $gt: after.key } }],
        },
        { sort: { updatedAt: 1, _id: 1 }, limit: query.limit + 1 },
      )
      .toArray();
    const items = docs.slice(0, query.limit).map(toExecution);
    const last = items.at(-1);
    return { items, next: docs.length > query.limit && last ? encodeCursor(last) : null };
  }

  async bindSignal(key: string, signalId: string, now: number): Promise<string | null> {
    await this.#db.executions.updateOne(
      { _id: key, status: "waiting", signalId: null },
      { $set: { signalId, updatedAt: now } },
    );
    const doc = await this.#db.executions.findOne({ _id: key }, { projection: { signalId: 1 } });
    return doc?.signalId ?? null;
  }

  async addSignal(signal: NewSignal): Promise<{ signal: SignalRecord; created: boolean }> {
    const doc: SignalDocument = {
      _id: signal.id,
      runId: signal.runId,
      name: signal.name,
      data: jsonValue(signal.data ?? null, () => `signal ${signal.name}`),
      state: "new",
      consumedBy: null,
      createdAt: signal.createdAt,
      updatedAt: signal.createdAt,
    };
    try {
      await this.#db.signals.insertOne(doc);
      return { signal: toSignal(doc), created: true };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return { signal: (await this.getSignal(signal.id)) as SignalRecord, created: false };
    }
  }

  async getSignal(id: string): Promise<SignalRecord | null> {
    const doc = await this.#db.signals.findOne({ _id: id });
    return doc ? toSignal(doc) : null;
  }

  async consumeSignal(
    runId: string,
    name: string,
    executionKey: string,
    now: number,
  ): Promise<SignalRecord | null> {
    const taken = await this.#db.signals.findOne(
      { consumedBy: executionKey, state: "consumed" },
      { sort: { createdAt: 1, _id: 1 } },
    );
    if (taken) return toSignal(taken);
    const doc = await this.#db.signals.findOneAndUpdate(
      { runId, name, state: { $in: ["new", "kept"] } },
      { $set: { state: "consumed", consumedBy: executionKey, updatedAt: now } },
      { sort: { createdAt: 1, _id: 1 }, returnDocument: "after" },
    );
    return doc ? toSignal(doc) : null;
  }

  async settleSignal(id: string, to: "kept" | "delivered" | "released", now: number): Promise<boolean> {
    const from = to === "kept" ? "new" : "consumed";
    const result = await this.#db.signals.updateOne(
      { _id: id, state: from },
      {
        $set: {
          state: to === "delivered" ? "delivered" : "kept",
          ...(to === "released" ? { consumedBy: null } : {}),
          updatedAt: now,
        },
      },
    );
    return result.matchedCount === 1;
  }

  async findUnsettledSignals(before: number, limit: number): Promise<SignalRecord[]> {
    const docs = await this.#db.signals
      .find({ state: { $in: ["new", "consumed"] }, updatedAt: { $lt: before } }, { limit })
      .toArray();
    return docs.map(toSignal);
  }
}

function toSignal(doc: SignalDocument): SignalRecord {
  return {
    id: doc._id,
    runId: doc.runId,
    name: doc.name,
    data: parse(doc.data),
    state: doc.state,
    consumedBy: doc.consumedBy ?? null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}
