import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import { type Collection, MongoBulkWriteError } from "mongodb";
import type { HistoryEvent, HistoryEventType, HistoryNote } from "../../history/events.ts";
import type { Subject } from "../../history/notes.ts";
import type { HistoryQuery } from "../store.ts";
import type { MongoConnection } from "./connection.ts";
import {
  type ExecutionDocument,
  type HistoryDocument,
  jsonValue,
  type OutboxEntry,
  parse,
  type RunDocument,
} from "./documents.ts";
import { isDuplicateKey } from "./server-errors.ts";

/**
 * The MongoDB store's run history, without transactions (FerretDB has none,
 * and its updates are not even atomic without the store's lock).
 *
 * 1. A transition writes its events into the `outbox` array of the document
 *    it changes, in the same update ($push): one update of one document, so
 *    the events exist exactly when the transition does. A duplicate or stale
 *    caller matches nothing and records nothing.
 * 2. Right after, the writer moves them to the `history` collection, each
 *    with the next sequence number of its run: an insert, whose `_id` is the
 *    entry's idempotent key (the document's id and the entry's id), and which
 *    a unique index on (runId, seq) refuses if another writer took that number
 *    first. Refused, the writer looks again: if its event is there (another
 *    writer moved it), it is done with it; else it reads the run's last
 *    number and tries the next. No number is reserved before the insert, so
 *    none is lost to a crash: the numbers have no gaps, and no event is
 *    inserted twice.
 * 3. Then it removes the moved entries from the outbox ($pullAll).
 *
 * A process that dies between 1 and 3 leaves entries in an outbox; the
 * sweeper (repairHistory) moves those older than a grace period, and step 2
 * makes moving one twice harmless. Entries are numbered in the order their
 * writer moves them: a repaired entry may be numbered after events that
 * happened later (its `at` still says when it happened).
 *
 * Round and attempt are read from the document when its entries are moved,
 * which is at once, by the writer, unless it died; a rerun moves a run's
 * entries before it resets the run's executions, so no entry is counted in
 * the next round.
 */
export const FROM_DOCUMENT = -1;

/** A Subject for notes whose node, item and attempt the document gives when moved. */
export const DOCUMENT_SUBJECT: Subject = Object.freeze({ nodeId: "", item: null, attempt: FROM_DOCUMENT });

export type OutboxOwner = Pick<
  ExecutionDocument,
  "_id" | "runId" | "nodeId" | "item" | "round" | "attemptsTotal" | "outbox"
> &
  Partial<Pick<RunDocument, "round">>;

export class MongoHistory {
  readonly #db: MongoConnection;
  readonly #retentionMs: number;
  readonly #listeners = new Set<(runId: string) => void>();
  /** The last sequence number this process saw for a run: its next insert's guess, corrected on conflict. */
  readonly #lastSeq = new LRUCache<string, number>({ max: 10_000 });
  /** Per run: the batch of moves still taking more, and the write of the batch before it. */
  readonly #open = new Map<string, MoveBatch>();
  readonly #writing = new Map<string, Promise<void>>();

  constructor(db: MongoConnection, retentionMs: number) {
    this.#db = db;
    this.#retentionMs = retentionMs;
  }

  /** Outbox entries for notes, for a transition's `$push`. */
  entries(notes: readonly HistoryNote[], owner: string): OutboxEntry[] {
    const id = randomUUID();
    return notes.map((note, index) => ({
      id: `${id}.${index}`,
      type: note.type,
      at: note.at,
      data: jsonValue(note.data, () => `the ${note.type} event of ${owner}`),
      ...(typeof note.attempt === "number" && note.attempt !== FROM_DOCUMENT
        ? { attempt: note.attempt }
        : {}),
    }));
  }

  /**
   * Moves the outbox entries of the given documents into the history (steps 2
   * and 3). The moves of one run in this process are batched: while one batch
   * is being written, the next gathers every drain that comes meanwhile, and is
   * then written with one insert and one update, numbered in the order the
   * drains came. So this process's concurrent transitions of a run never race
   * each other for a number, and share their round trips.
   */
  async drain(kind: "runs" | "executions", ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const docs = await this.#collection(kind)
      .find(
        { _id: { $in: [...ids] } },
        { projection: { runId: 1, nodeId: 1, item: 1, round: 1, attemptsTotal: 1, outbox: 1 } },
      )
      .toArray();
    return this.move(kind, docs);
  }

  /**
   * Moves the outbox entries of documents the caller already has, as a
   * transition returns them (or its own entries, with the fields the events
   * need), without reading them again: what drain does after its read.
   */
  async move(kind: "runs" | "executions", docs: readonly OutboxOwner[]): Promise<number> {
    const byRun = new Map<string, { events: HistoryDocument[]; docs: OutboxOwner[] }>();
    for (const doc of docs) {
      if (!doc.outbox || doc.outbox.length === 0) continue;
      const runId = kind === "runs" ? doc._id : doc.runId;
      const moving = byRun.get(runId) ?? { events: [], docs: [] };
      for (const entry of doc.outbox) moving.events.push(this.#event(kind, runId, doc, entry));
      moving.docs.push(doc);
      byRun.set(runId, moving);
    }
    const counts = await Promise.all(
      [...byRun].map(async ([runId, moving]) => {
        const skipped = await this.#batch(runId).add(kind, moving.events, moving.docs);
        return moving.events.filter((event) => !skipped.has(event._id)).length;
      }),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** The open batch of a run's moves, made when there is none. */
  #batch(runId: string): MoveBatch {
    const key = runId;
    const open = this.#open.get(key);
    if (open) return open;
    const previous = this.#writing.get(key) ?? Promise.resolve();
    const batch = new MoveBatch();
    this.#open.set(key, batch);
    const written = previous.then(async () => {
      // From here the batch takes no more moves: the next drain opens the next batch.
      this.#open.delete(key);
      try {
        batch.done(await this.#write(runId, batch));
      } catch (error) {
        batch.failed(error);
      }
    });
    this.#writing.set(key, written);
    void written.then(() => {
      if (this.#writing.get(key) === written) this.#writing.delete(key);
    });
    return batch;
  }

  /** One batch: its events numbered and inserted, then its documents' outboxes emptied of them. */
  async #write(runId: string, batch: MoveBatch): Promise<ReadonlySet<string>> {
    const skipped = await this.#append(runId, batch.events);
    await Promise.all(
      (["runs", "executions"] as const).map((kind) => {
        const docs = batch.docs[kind];
        if (docs.length === 0) return null;
        return this.#collection(kind).bulkWrite(
          docs.map((doc) => ({
            updateOne: {
              filter: { _id: doc._id },
              update: { $pullAll: { outbox: doc.outbox as OutboxEntry[] } },
            },
          })),
          { ordered: false },
        );
      }),
    );
    for (const listener of this.#listeners) listener(runId);
    return skipped;
  }

  #collection(kind: "runs" | "executions"): Collection<OutboxOwner> {
    return (kind === "runs" ? this.#db.runs : this.#db.executions) as unknown as Collection<OutboxOwner>;
  }

  /** Moves entries a writer left behind (it died), older than `before`. */
  async repair(before: number, limit: number): Promise<number> {
    let count = 0;
    for (const kind of ["runs", "executions"] as const) {
      const collection = this.#collection(kind);
      const stale = await collection
        .find({ "outbox.at": { $lt: before } }, { projection: { _id: 1 }, limit })
        .toArray();
      count += await this.drain(
        kind,
        stale.map((doc) => doc._id),
      );
    }
    return count;
  }

  async list(runId: string, query: HistoryQuery): Promise<HistoryEvent[]> {
    const docs = await this.#db.history
      .find(
        {
          runId,
          seq: { $gt: query.after ?? 0 },
          ...(query.nodeId === undefined ? {} : { nodeId: query.nodeId, item: query.item ?? null }),
        },
        { sort: { runId: 1, seq: 1 }, limit: query.limit },
      )
      .toArray();
    return docs.map(toEvent);
  }

  async delete(before: number, limit: number): Promise<number> {
    const old = await this.#db.history
      .find({ at: { $lt: before } }, { projection: { _id: 1 }, sort: { at: 1 }, limit })
      .toArray();
    if (old.length === 0) return 0;
    const result = await this.#db.history.deleteMany({ _id: { $in: old.map((doc) => doc._id) } });
    return result.deletedCount;
  }

  listen(listener: (runId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #event(kind: "runs" | "executions", runId: string, doc: OutboxOwner, entry: OutboxEntry): HistoryDocument {
    const attempt = (entry as OutboxEntry & { attempt?: number }).attempt;
    return {
      _id: `${doc._id}|${entry.id}`,
      runId,
      seq: 0,
      at: entry.at,
      expireAt: new Date(entry.at + this.#retentionMs),
      type: entry.type,
      round: doc.round ?? 1,
      nodeId: kind === "runs" ? null : doc.nodeId,
      item: kind === "runs" ? null : (doc.item ?? null),
      attempt: kind === "runs" ? null : (attempt ?? doc.attemptsTotal),
      data: entry.data,
    };
  }

  /**
   * Step 2 for one run's events, in order; returns the ids of those it did not
   * insert because another writer had moved them already.
   */
  async #append(runId: string, events: readonly HistoryDocument[]): Promise<ReadonlySet<string>> {
    let last = this.#lastSeq.get(runId) ?? (await this.#readLast(runId));
    let pending = events;
    const skipped = new Set<string>();
    while (pending.length > 0) {
      const numbered = pending.map((event, index) => ({ ...event, seq: last + 1 + index }));
      try {
        await this.#db.history.insertMany(numbered, { ordered: true });
        last += numbered.length;
        break;
      } catch (error) {
        if (!refusedAsDuplicate(error)) throw error;
        pending = pending.slice(insertedBefore(error));
        const head = pending[0] as HistoryDocument;
        // Moved by another writer already: skip it; else its number was taken: look again.
        if (await this.#db.history.findOne({ _id: head._id }, { projection: { _id: 1 } })) {
          skipped.add(head._id);
          pending = pending.slice(1);
        }
        last = await this.#readLast(runId);
      }
    }
    this.#lastSeq.set(runId, last);
    return skipped;
  }

  async #readLast(runId: string): Promise<number> {
    const [last] = await this.#db.history
      .find({ runId }, { projection: { seq: 1 }, sort: { runId: 1, seq: -1 }, limit: 1 })
      .toArray();
    return last?.seq ?? 0;
  }
}

/**
 * How many of an ordered insertMany's documents went in before it was refused:
 * all those before the first refused one, and none after (ordered). Read from
 * the refused one's index rather than the reply's count, which mongo-java-server
 * (the suite's atomic server) gives as the batch's length even when it
 * inserted none.
 */
function insertedBefore(error: unknown): number {
  if (!(error instanceof MongoBulkWriteError)) return 0;
  const indexes = [error.writeErrors].flat().map((writeError) => writeError.index);
  return indexes.length > 0 ? Math.min(...indexes) : 0;
}

/** Moves gathered for one write: every event, the documents they came from, and who waits for them. */
class MoveBatch {
  readonly events: HistoryDocument[] = [];
  readonly docs: Record<"runs" | "executions", OutboxOwner[]> = { runs: [], executions: [] };
  readonly #written = Promise.withResolvers<ReadonlySet<string>>();

  /** Adds a drain's moves; resolves with the ids skipped (moved by another writer) once written. */
  add(
    kind: "runs" | "executions",
    events: readonly HistoryDocument[],
    docs: readonly OutboxOwner[],
  ): Promise<ReadonlySet<string>> {
    for (const event of events) this.events.push(event);
    for (const doc of docs) this.docs[kind].push(doc);
    return this.#written.promise;
  }

  done(skipped: ReadonlySet<string>): void {
    this.#written.resolve(skipped);
  }

  failed(error: unknown): void {
    this.#written.reject(error);
  }
}

function refusedAsDuplicate(error: unknown): boolean {
  if (error instanceof MongoBulkWriteError)
    return [error.writeErrors].flat().every((writeError) => writeError.code === 11000);
  return isDuplicateKey(error);
}

function toEvent(doc: HistoryDocument): HistoryEvent {
  return {
    runId: doc.runId,
    seq: doc.seq,
    at: doc.at,
    type: doc.type as HistoryEventType,
    round: doc.round,
    nodeId: doc.nodeId ?? null,
    item: doc.item ?? null,
    attempt: doc.attempt ?? null,
    data: parse<Record<string, unknown>>(doc.data) ?? {},
  };
}
