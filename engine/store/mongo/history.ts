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
import type { LazyWrites } from "./lazy-writes.ts";
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
 * 3. Then it removes the moved entries from the outbox ($pullAll), in the
 *    next batch of lazy writes (lazy-writes.ts): an entry left there a moment
 *    longer is one that step 2 would skip if moved again.
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

/**
 * Batches of moves written at once, each for its own runs (a run always by the
 * same lane, so its moves stay in order and this process's never race for a
 * number): one lane would make every transition of the process wait behind
 * one insert at a time.
 */
const LANES = 4;

function laneOf(runId: string): number {
  let hash = 0;
  for (let index = 0; index < runId.length; index++) hash = (hash * 31 + runId.charCodeAt(index)) | 0;
  return Math.abs(hash) % LANES;
}

/** A Subject for notes whose node, item and attempt the document gives when moved. */
export const DOCUMENT_SUBJECT: Subject = Object.freeze({ nodeId: "", item: null, attempt: FROM_DOCUMENT });

/** A document whose outbox entries are moved: a run, or an execution with the fields its events take. */
export type OutboxOwner = Pick<RunDocument, "_id" | "round" | "outbox"> &
  Partial<Pick<ExecutionDocument, "runId" | "nodeId" | "item" | "attemptsTotal">>;

export class MongoHistory {
  readonly #db: MongoConnection;
  readonly #lazy: LazyWrites;
  readonly #retentionMs: number;
  readonly #listeners = new Set<(runId: string) => void>();
  /** The last sequence number this process saw for a run: its next insert's guess, corrected on conflict. */
  readonly #lastSeq = new LRUCache<string, number>({ max: 10_000 });
  /** By lane: the batch of moves still taking more, and the write of the batch before it. */
  readonly #open: Array<MoveBatch | undefined> = Array.from({ length: LANES }, () => undefined);
  readonly #writing: Array<Promise<void>> = Array.from({ length: LANES }, () => Promise.resolve());

  constructor(db: MongoConnection, lazy: LazyWrites, retentionMs: number) {
    this.#db = db;
    this.#lazy = lazy;
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

  /** A run this process has just created: it has no events yet, so its numbering starts at 1 unread. */
  created(runId: string): void {
    this.#lastSeq.set(runId, 0);
  }

  /**
   * Reads the given documents and moves their outbox entries into the history
   * (steps 2 and 3), every entry there in the order the transitions pushed
   * them: a transition's own, and before them any a writer that died left
   * (so the sweeper's lease expiry numbers a dead worker's claim before the
   * attempt's end). Entries this process moved already and has not yet
   * pulled (lazy-writes.ts) are left out.
   */
  async drain(kind: "runs" | "executions", ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const docs = await this.#collection(kind)
      .find(
        { _id: { $in: [...ids] } },
        { projection: { runId: 1, nodeId: 1, item: 1, round: 1, attemptsTotal: 1, outbox: 1 } },
      )
      .toArray();
    return this.move(
      kind,
      docs.map((doc) => ({ ...doc, outbox: this.#lazy.unpulled(kind, doc._id, doc.outbox ?? []) })),
    );
  }

  /**
   * Moves the outbox entries of documents the caller already has, as a
   * transition returns them (or its own entries, with the fields the events
   * need), without reading them again. The moves of this process's runs are
   * batched, by lane (LANES): while a lane's batch is written, its next gathers every move
   * that comes meanwhile (and the first gathers a whole turn of the event
   * loop), and is then written with one insert, numbered per run in the order
   * the moves came. So this process's concurrent transitions never race each
   * other for a number, and share their round trips. Emptying the outboxes
   * (step 3) is left to the next batch of lazy writes (lazy-writes.ts).
   */
  async move(kind: "runs" | "executions", docs: readonly OutboxOwner[]): Promise<number> {
    const events: HistoryDocument[] = [];
    const owners: OutboxOwner[] = [];
    for (const doc of docs) {
      if (!doc.outbox || doc.outbox.length === 0) continue;
      const runId = kind === "runs" ? doc._id : (doc.runId as string);
      for (const entry of doc.outbox) events.push(this.#event(kind, runId, doc, entry));
      owners.push(doc);
    }
    if (events.length === 0) return 0;
    // Each run's moves go by one lane, in order; one move of several runs waits for each of their lanes.
    const lanes = new Map<number, { events: HistoryDocument[]; owners: OutboxOwner[] }>();
    for (const event of events) {
      const lane = laneOf(event.runId);
      const moving = lanes.get(lane) ?? { events: [], owners: [] };
      moving.events.push(event);
      lanes.set(lane, moving);
    }
    for (const owner of owners) {
      const runId = kind === "runs" ? owner._id : (owner.runId as string);
      lanes.get(laneOf(runId))?.owners.push(owner);
    }
    const skipped = new Set<string>();
    await Promise.all(
      [...lanes].map(async ([lane, moving]) => {
        for (const id of await this.#batch(lane).add(kind, moving.events, moving.owners)) skipped.add(id);
      }),
    );
    return events.filter((event) => !skipped.has(event._id)).length;
  }

  /** Resolves once every move so far is written and its outboxes emptied (repair, close). */
  async settle(): Promise<void> {
    await this.#moved();
    await this.#lazy.settle();
  }

  /** Resolves once every move asked for so far is written. */
  async #moved(): Promise<void> {
    for (let lane = 0; lane < LANES; lane++) {
      for (let writing = this.#writing[lane]; ; writing = this.#writing[lane]) {
        await writing;
        if (writing === this.#writing[lane]) break;
      }
    }
  }

  /** The open batch of moves, made when there is none. */
  #batch(lane: number): MoveBatch {
    const open = this.#open[lane];
    if (open) return open;
    const batch = new MoveBatch();
    this.#open[lane] = batch;
    this.#writing[lane] = (this.#writing[lane] as Promise<void>).then(async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      // From here the batch takes no more moves: the next move opens the next batch.
      this.#open[lane] = undefined;
      try {
        batch.done(await this.#write(batch));
      } catch (error) {
        batch.failed(error);
      }
    });
    return batch;
  }

  /** One batch: its events numbered and inserted; its documents' outboxes emptied of them, lazily. */
  async #write(batch: MoveBatch): Promise<ReadonlySet<string>> {
    const skipped = await this.#append(batch.events);
    for (const kind of ["runs", "executions"] as const)
      for (const doc of batch.docs[kind]) this.#lazy.pull(kind, doc._id, doc.outbox as OutboxEntry[]);
    const runs = new Set(batch.events.map((event) => event.runId));
    for (const runId of runs) for (const listener of this.#listeners) listener(runId);
    return skipped;
  }

  #collection(kind: "runs" | "executions"): Collection<OutboxOwner> {
    return (kind === "runs" ? this.#db.runs : this.#db.executions) as unknown as Collection<OutboxOwner>;
  }

  /** Moves entries a writer left behind (it died), older than `before`. */
  async repair(before: number, limit: number): Promise<number> {
    // This process's own moves and tidying first: what is left is what a dead writer left.
    await this.settle();
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
    await this.settle();
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
      nodeId: kind === "runs" ? null : (doc.nodeId ?? null),
      item: kind === "runs" ? null : (doc.item ?? null),
      attempt: kind === "runs" ? null : (attempt ?? doc.attemptsTotal ?? null),
      data: entry.data,
    };
  }

  /**
   * Step 2 for the events of one batch (of any runs), in order, in one ordered
   * insert, each run's numbered from its last number on; returns the ids of
   * those it did not insert because another writer had moved them already. A
   * refusal stops the insert at the refused event: those before it went in,
   * and the rest are numbered again and sent again.
   */
  async #append(events: readonly HistoryDocument[]): Promise<ReadonlySet<string>> {
    const last = new Map<string, number>();
    for (const event of events) {
      if (last.has(event.runId)) continue;
      last.set(event.runId, this.#lastSeq.get(event.runId) ?? (await this.#readLast(event.runId)));
    }
    let pending = events;
    const skipped = new Set<string>();
    while (pending.length > 0) {
      const next = new Map(last);
      const numbered = pending.map((event) => {
        const seq = (next.get(event.runId) ?? 0) + 1;
        next.set(event.runId, seq);
        return { ...event, seq };
      });
      try {
        await this.#db.history.insertMany(numbered, { ordered: true });
        for (const [runId, seq] of next) last.set(runId, seq);
        break;
      } catch (error) {
        if (!refusedAsDuplicate(error)) throw error;
        const inserted = insertedBefore(error);
        for (const event of numbered.slice(0, inserted)) last.set(event.runId, event.seq);
        pending = pending.slice(inserted);
        const head = pending[0] as HistoryDocument;
        // Moved by another writer already: skip it; else its number was taken: look again.
        if (await this.#db.history.findOne({ _id: head._id }, { projection: { _id: 1 } })) {
          skipped.add(head._id);
          pending = pending.slice(1);
        }
        last.set(head.runId, await this.#readLast(head.runId));
      }
    }
    for (const [runId, seq] of last) this.#lastSeq.set(runId, seq);
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
  readonly #ids = new Set<string>();
  readonly #written = Promise.withResolvers<ReadonlySet<string>>();

  /**
   * Adds a move; resolves, once written, with the ids of its events it did
   * not number: moved by another writer, or already in this batch (two
   * repairs of one document at once), where the first to add it numbers it.
   */
  async add(
    kind: "runs" | "executions",
    events: readonly HistoryDocument[],
    docs: readonly OutboxOwner[],
  ): Promise<ReadonlySet<string>> {
    const doubled = new Set<string>();
    for (const event of events) {
      if (this.#ids.has(event._id)) {
        doubled.add(event._id);
        continue;
      }
      this.#ids.add(event._id);
      this.events.push(event);
    }
    for (const doc of docs) this.docs[kind].push(doc);
    const skipped = await this.#written.promise;
    return doubled.size === 0 ? skipped : new Set([...skipped, ...doubled]);
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
