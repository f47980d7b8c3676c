import type { HistoryNote } from "../../history/events.ts";
import { type Subject, waitingNote } from "../../history/notes.ts";
import type { ExecutionRecord, NewSignal, SignalRecord, WaitKind } from "../records.ts";
import { decodeCursor, encodeCursor } from "../wait-cursor.ts";
import type { WaitStore } from "../waits.ts";
import type { SqliteConnection } from "./connection.ts";
import { json, type Row, toExecution, toSignal } from "./rows.ts";

/**
 * The embedded store's waits and signals (the Store port's "Waits, signals
 * and approvals"): each method one statement or one transaction, so a signal
 * is taken by one execution and an execution bound to one signal.
 */
export class SqliteWaits implements WaitStore {
  readonly #db: SqliteConnection;
  readonly #record: (row: Row, notes: readonly HistoryNote[]) => void;

  constructor(db: SqliteConnection, record: (row: Row, notes: readonly HistoryNote[]) => void) {
    this.#db = db;
    this.#record = record;
  }

  startWait(
    key: string,
    token: string,
    wait: { kind: WaitKind; signal: string | null; until: number | null },
    now: number,
  ): Promise<boolean> {
    return this.#db.write(() => {
      // The timer is lease_expires_at, as for a waiting map or workflow node: no lease is held.
      const row = this.#db
        .sql(
          `UPDATE executions SET status = 'waiting', lease_token = NULL, lease_expires_at = ?,
           wait_kind = ?, wait_signal = ?, signal_id = NULL, updated_at = ?
         WHERE key = ? AND status = 'running' AND lease_token = ?
         RETURNING run_id, node_id, item, attempts_total, round`,
        )
        .get(wait.until, wait.kind, wait.signal, now, key, token);
      if (row) this.#record(row, [waitingNote(subjectOf(row), wait, now)]);
      return row !== undefined;
    });
  }

  async findWaitingForSignal(runId: string, name: string): Promise<ExecutionRecord[]> {
    return this.#db
      .sql(
        `SELECT * FROM executions WHERE run_id = ? AND wait_signal = ? AND status = 'waiting'
         ORDER BY updated_at, key`,
      )
      .all(runId, name)
      .map(toExecution);
  }

  async listWaiting(query: {
    kind: WaitKind;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: ExecutionRecord[]; next: string | null }> {
    const after = decodeCursor(query.cursor);
    const rows = this.#db
      .sql(
        `SELECT * FROM executions WHERE status = 'waiting' AND wait_kind = ?
           AND (updated_at > ? OR (updated_at = ? AND key > ?))
         ORDER BY updated_at, key LIMIT ?`,
      )
      .all(query.kind, after.at, after.at, after.key, query.limit + 1)
      .map(toExecution);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return { items, next: rows.length > query.limit && last ? encodeCursor(last) : null };
  }

  bindSignal(key: string, signalId: string, now: number): Promise<string | null> {
    return this.#db.write(() => {
      this.#db
        .sql(
          `UPDATE executions SET signal_id = ?, updated_at = ?
         WHERE key = ? AND status = 'waiting' AND signal_id IS NULL`,
        )
        .run(signalId, now, key);
      const row = this.#db.sql("SELECT signal_id FROM executions WHERE key = ?").get(key);
      return (row?.signal_id as string | null | undefined) ?? null;
    });
  }

  addSignal(signal: NewSignal): Promise<{ signal: SignalRecord; created: boolean }> {
    return this.#db.write(() => {
      const inserted = this.#db
        .sql(
          `INSERT OR IGNORE INTO signals (id, run_id, name, data, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'new', ?, ?)`,
        )
        .run(
          signal.id,
          signal.runId,
          signal.name,
          json(signal.data ?? null),
          signal.createdAt,
          signal.createdAt,
        );
      return { signal: this.#signal(signal.id) as SignalRecord, created: Number(inserted.changes) === 1 };
    });
  }

  async getSignal(id: string): Promise<SignalRecord | null> {
    return this.#signal(id);
  }

  consumeSignal(
    runId: string,
    name: string,
    executionKey: string,
    now: number,
  ): Promise<SignalRecord | null> {
    return this.#db.write(() => {
      const taken = this.#db
        .sql("SELECT * FROM signals WHERE consumed_by = ? AND state = 'consumed' ORDER BY seq LIMIT 1")
        .get(executionKey);
      if (taken) return toSignal(taken);
      const row = this.#db
        .sql(
          `UPDATE signals SET state = 'consumed', consumed_by = ?, updated_at = ?
         WHERE seq = (SELECT seq FROM signals WHERE run_id = ? AND name = ? AND state IN ('new', 'kept')
                      ORDER BY seq LIMIT 1)
         RETURNING *`,
        )
        .get(executionKey, now, runId, name);
      return row ? toSignal(row) : null;
    });
  }

  settleSignal(id: string, to: "kept" | "delivered" | "released", now: number): Promise<boolean> {
    return this.#db.write(() => {
      const [from, state, consumedBy] = SETTLE[to];
      const result = this.#db
        .sql(
          `UPDATE signals SET state = ?, consumed_by = CASE WHEN ? THEN NULL ELSE consumed_by END, updated_at = ?
         WHERE id = ? AND state = ?`,
        )
        .run(state, consumedBy === "clear" ? 1 : 0, now, id, from);
      return Number(result.changes) === 1;
    });
  }

  async findUnsettledSignals(before: number, limit: number): Promise<SignalRecord[]> {
    return this.#db
      .sql(
        `SELECT * FROM signals WHERE state IN ('new', 'consumed') AND updated_at < ?
         ORDER BY updated_at LIMIT ?`,
      )
      .all(before, limit)
      .map(toSignal);
  }

  #signal(id: string): SignalRecord | null {
    const row = this.#db.sql("SELECT * FROM signals WHERE id = ?").get(id);
    return row ? toSignal(row) : null;
  }
}

/** Each settling move: the state it starts from, the state it leaves, and whether the consumer goes. */
const SETTLE = {
  kept: ["new", "kept", "keep"],
  delivered: ["consumed", "delivered", "keep"],
  released: ["consumed", "kept", "clear"],
} as const;

function subjectOf(row: Row): Subject {
  return {
    nodeId: row.node_id as string,
    item: row.item === null || row.item === undefined ? null : Number(row.item),
    attempt: Number(row.attempts_total),
  };
}
