import type { HistoryEvent, HistoryEventType, HistoryNote } from "../../history/events.ts";
import type { HistoryQuery } from "../store.ts";
import type { SqliteConnection } from "./connection.ts";
import { json, nullableNumber, parse, type Row } from "./rows.ts";

/**
 * The embedded store's run history: one row per event, keyed (run, seq).
 * Events are appended inside the transition's own write (the same
 * transaction), so an event is durable exactly when its transition is, and
 * the next sequence number is read in that transaction: writes never
 * interleave (node:sqlite is synchronous, one connection per file), so no two
 * events take one number and none is skipped.
 */
export class SqliteHistory {
  readonly #db: SqliteConnection;
  readonly #listeners = new Set<(runId: string) => void>();
  /** The last seq of runs appended to in this transaction (connection generation `#cachedIn`). */
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
    // A run's last number is read once per transaction: within it, only this
    // connection writes (a rolled-back write starts a new generation).
    if (this.#cachedIn !== this.#db.generation) {
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
    const insert = this.#db.sql(
      `INSERT INTO history (run_id, seq, at, type, round, node_id, item, attempt, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const note of notes) {
      insert.run(
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
