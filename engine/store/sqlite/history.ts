import type { SQLInputValue } from "node:sqlite";
import type { HistoryEvent, HistoryEventType, HistoryNote } from "../../history/events.ts";
import type { HistoryQuery } from "../store.ts";
import type { SqliteConnection } from "./connection.ts";
import { multiRowInsert } from "./multi-row-insert.ts";
import { json, nullableNumber, parse, type Row } from "./rows.ts";

/**
 * The embedded store's run history: one row per event, keyed (run, seq).
 * Events are appended inside the transition's own write (the same
 * transaction), so an event is durable exactly when its transition is, and
 * the next sequence number is read in that transaction: writes never
 * interleave (node:sqlite is synchronous, one connection per file), so no two
 * events take one number and none is skipped.
 */
/** Runs whose last number is kept: more are dropped all at once (and read again). */
const KEPT_RUNS = 4_096;

export class SqliteHistory {
  readonly #db: SqliteConnection;
  readonly #listeners = new Set<(runId: string) => void>();
  /** The last seq of runs appended to in connection generation `#cachedIn` (a bounded number of runs). */
  readonly #lastSeq = new Map<string, number>();
  #cachedIn = -1;
  /** Runs appended to since the last commit, announced once it is done. */
  #appended = new Set<string>();

  constructor(db: SqliteConnection) {
    this.#db = db;
  }

  /** Inside a write: appends the notes to the run's history. */
  append(runId: string, round: number, notes: readonly HistoryNote[]): void {
    if (notes.length === 0) return;
    // A run's last number is read once per generation: within it, only this
    // connection writes (another process's commit or a roll-back starts a new one).
    if (this.#cachedIn !== this.#db.generation || this.#lastSeq.size >= KEPT_RUNS) {
      this.#lastSeq.clear();
      this.#cachedIn = this.#db.generation;
    }
    let seq = this.#lastSeq.get(runId);
    if (seq === undefined) {
      const last = this.#db
        .sql("SELECT seq FROM history WHERE run_id = ? ORDER BY seq DESC LIMIT 1")
        .get(runId);
      seq = last ? Number(last.seq) : 0;
    }
    // One statement for a transition's notes (two, mostly; in chunks past
    // MAX_ROWS): a statement's step costs more than the row it inserts.
    for (let start = 0; start < notes.length; start += MAX_ROWS) {
      const chunk = notes.slice(start, start + MAX_ROWS);
      const values: SQLInputValue[] = [];
      for (const note of chunk) {
        values.push(
          runId,
          ++seq,
          note.at,
          note.type,
          round,
          note.nodeId ?? null,
          note.item ?? null,
          note.attempt ?? null,
          json(note.data),
        );
      }
      this.#db.sql(insertText(chunk.length)).run(...values);
    }
    this.#lastSeq.set(runId, seq);
    this.#announce(runId);
  }

  async list(runId: string, query: HistoryQuery): Promise<HistoryEvent[]> {
    // Only what is committed: an event a crash could take back is never shown.
    await this.#db.committed();
    const rows =
      query.nodeId === undefined
        ? this.#db
            .sql("SELECT * FROM history WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?")
            .all(runId, query.after ?? 0, query.limit)
        : this.#db
            .sql(
              `SELECT * FROM history WHERE run_id = ? AND seq > ? AND node_id = ? AND item IS ?
               ORDER BY seq LIMIT ?`,
            )
            .all(runId, query.after ?? 0, query.nodeId, query.item ?? null, query.limit);
    return rows.map(toEvent);
  }

  delete(before: number, limit: number): Promise<number> {
    return this.#db.write(() => {
      const result = this.#db
        .sql(
          `DELETE FROM history WHERE (run_id, seq) IN
           (SELECT run_id, seq FROM history WHERE at < ? ORDER BY at LIMIT ?)`,
        )
        .run(before, limit);
      return Number(result.changes);
    });
  }

  listen(listener: (runId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #announce(runId: string): void {
    if (this.#listeners.size === 0) return;
    const first = this.#appended.size === 0;
    this.#appended.add(runId);
    if (!first) return;
    void this.#db.committed().then(() => {
      const runs = this.#appended;
      this.#appended = new Set();
      for (const id of runs) for (const listener of this.#listeners) listener(id);
    });
  }
}

/** Events inserted by one statement at most. */
const MAX_ROWS = 16;
const insertText = multiRowInsert(
  "INSERT INTO history (run_id, seq, at, type, round, node_id, item, attempt, data)",
  "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
  MAX_ROWS,
);

function toEvent(row: Row): HistoryEvent {
  return {
    runId: row.run_id as string,
    seq: Number(row.seq),
    at: Number(row.at),
    type: row.type as HistoryEventType,
    round: Number(row.round),
    nodeId: (row.node_id as string | null) ?? null,
    item: nullableNumber(row.item),
    attempt: nullableNumber(row.attempt),
    data: parse<Record<string, unknown>>(row.data) ?? {},
  };
}
