import type { SQLInputValue } from "node:sqlite";
import type { TickClaim, TriggerDeadLetter, TriggerKind, TriggerState, TriggerStore } from "../triggers.ts";
import type { SqliteConnection } from "./connection.ts";

type Row = Record<string, SQLInputValue>;

/**
 * Its own tables, created if missing on first use rather than by a numbered
 * migration: the trigger tables stand alone (no other table refers to them),
 * so they need no place in the migration order.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS triggers (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    kind TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    since INTEGER NOT NULL,
    last_fire_at INTEGER,
    last_run_id TEXT,
    last_error TEXT,
    last_error_at INTEGER,
    fired INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS trigger_ticks (
    trigger TEXT NOT NULL,
    tick INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    run_id TEXT,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (trigger, tick)
  );
  CREATE TABLE IF NOT EXISTS trigger_dead_letters (
    id TEXT PRIMARY KEY,
    trigger TEXT NOT NULL,
    workflow TEXT NOT NULL,
    reason TEXT NOT NULL,
    message_id TEXT,
    routing_key TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS trigger_dead_letters_by_time ON trigger_dead_letters (created_at);
`;

export class SqliteTriggers implements TriggerStore {
  readonly #db: SqliteConnection;
  #ready = false;

  constructor(db: SqliteConnection) {
    this.#db = db;
  }

  /** Every statement goes through here: the tables exist before the first one. */
  async #write<T>(work: () => T): Promise<T> {
    if (!this.#ready) {
      await this.#db.write(() => {
        for (const statement of SCHEMA.split(";")) if (statement.trim()) this.#db.sql(statement).run();
      });
      this.#ready = true;
    }
    return this.#db.write(work);
  }

  async #read<T>(work: () => T): Promise<T> {
    if (!this.#ready) await this.#write(() => undefined);
    return work();
  }

  latestWorkflowVersions(): Promise<{ name: string; version: number }[]> {
    return this.#read(() =>
      this.#db
        .sql("SELECT name, max(version) AS version FROM definitions WHERE kind = 'Workflow' GROUP BY name")
        .all()
        .map((row) => ({ name: String(row.name), version: Number(row.version) })),
    );
  }

  ensureTrigger(id: string, workflow: string, kind: TriggerKind, now: number): Promise<TriggerState> {
    return this.#write(() => {
      this.#db
        .sql("INSERT OR IGNORE INTO triggers (id, workflow, kind, since) VALUES (?, ?, ?, ?)")
        .run(id, workflow, kind, now);
      return toState(this.#db.sql("SELECT * FROM triggers WHERE id = ?").get(id) as Row);
    });
  }

  getTrigger(id: string): Promise<TriggerState | null> {
    return this.#read(() => {
      const row = this.#db.sql("SELECT * FROM triggers WHERE id = ?").get(id);
      return row ? toState(row) : null;
    });
  }

  listTriggers(): Promise<TriggerState[]> {
    return this.#read(() => this.#db.sql("SELECT * FROM triggers ORDER BY id").all().map(toState));
  }

  setTriggerPaused(id: string, paused: boolean, now: number): Promise<TriggerState | null> {
    return this.#write(() => {
      const row = this.#db
        .sql(
          `UPDATE triggers SET paused = ?, since = CASE WHEN ? = 0 AND paused = 1 THEN ? ELSE since END
           WHERE id = ? RETURNING *`,
        )
        .get(paused ? 1 : 0, paused ? 1 : 0, now, id);
      return row ? toState(row) : null;
    });
  }

  async recordTriggerFired(id: string, runId: string, at: number): Promise<void> {
    await this.#write(() =>
      this.#db
        .sql(
          `UPDATE triggers SET fired = fired + 1, last_run_id = ?,
           last_fire_at = max(coalesce(last_fire_at, 0), ?) WHERE id = ?`,
        )
        .run(runId, at, id),
    );
  }

  async recordTriggerFailed(id: string, error: string, at: number): Promise<void> {
    await this.#write(() =>
      this.#db
        .sql("UPDATE triggers SET failed = failed + 1, last_error = ?, last_error_at = ? WHERE id = ?")
        .run(error, at, id),
    );
  }

  claimTick(claim: TickClaim): Promise<boolean> {
    return this.#write(() => {
      const result = this.#db
        .sql(
          "INSERT OR IGNORE INTO trigger_ticks (trigger, tick, outcome, run_id, claimed_at) VALUES (?, ?, ?, ?, ?)",
        )
        .run(claim.trigger, claim.tick, claim.outcome, claim.runId, claim.claimedAt);
      return Number(result.changes) === 1;
    });
  }

  latestTick(trigger: string): Promise<TickClaim | null> {
    return this.#read(() => {
      const row = this.#db
        .sql("SELECT * FROM trigger_ticks WHERE trigger = ? ORDER BY tick DESC LIMIT 1")
        .get(trigger);
      return row
        ? {
            trigger: String(row.trigger),
            tick: Number(row.tick),
            outcome: row.outcome as TickClaim["outcome"],
            runId: row.run_id === null ? null : String(row.run_id),
            claimedAt: Number(row.claimed_at),
          }
        : null;
    });
  }

  async addTriggerDeadLetter(letter: TriggerDeadLetter): Promise<void> {
    await this.#write(() =>
      this.#db
        .sql(
          `INSERT OR IGNORE INTO trigger_dead_letters
           (id, trigger, workflow, reason, message_id, routing_key, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          letter.id,
          letter.trigger,
          letter.workflow,
          letter.reason,
          letter.messageId,
          letter.routingKey,
          letter.body,
          letter.createdAt,
        ),
    );
  }

  listTriggerDeadLetters(limit: number): Promise<TriggerDeadLetter[]> {
    return this.#read(() =>
      this.#db
        .sql("SELECT * FROM trigger_dead_letters ORDER BY created_at DESC, id LIMIT ?")
        .all(limit)
        .map((row) => ({
          id: String(row.id),
          trigger: String(row.trigger),
          workflow: String(row.workflow),
          reason: String(row.reason),
          messageId: row.message_id === null ? null : String(row.message_id),
          routingKey: String(row.routing_key),
          body: String(row.body),
          createdAt: Number(row.created_at),
        })),
    );
  }
}

function toState(row: Row): TriggerState {
  const nullableNumber = (value: SQLInputValue) => (value === null ? null : Number(value));
  return {
    id: String(row.id),
    workflow: String(row.workflow),
    kind: row.kind as TriggerKind,
    paused: Number(row.paused) === 1,
    since: Number(row.since),
    lastFireAt: nullableNumber(row.last_fire_at ?? null),
    lastRunId: row.last_run_id == null ? null : String(row.last_run_id),
    lastError: row.last_error == null ? null : String(row.last_error),
    lastErrorAt: nullableNumber(row.last_error_at ?? null),
    fired: Number(row.fired),
    failed: Number(row.failed),
  };
}
