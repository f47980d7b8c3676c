import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { NodeError } from "../../errors.ts";
import type { TokenUsage } from "../../providers/provider.ts";
import {
  type DeadLetter,
  type DefinitionRecord,
  type ExecutionRecord,
  type ExecutionStatus,
  executionKey,
  type NewRun,
  type Outcome,
  type RunRecord,
  type RunStatus,
} from "../records.ts";
import type { FinishResult, Store } from "../store.ts";
import { MIGRATIONS } from "./migrations.ts";

/**
 * The embedded Store, on Node's built-in SQLite: one file, WAL mode, so readers
 * never wait for the writer and a process killed at any point loses no
 * committed transition. Every method is one transaction; node:sqlite is
 * synchronous, so a method's statements never interleave with another's.
 * synchronous=NORMAL: durable across a process crash (what the engine
 * promises); a power cut may lose the last moments.
 */
export class SqliteStore implements Store {
  readonly #path: string;
  #db: DatabaseSync | undefined;
  readonly #statements = new Map<string, StatementSync>();
  #group: PromiseWithResolvers<void> | undefined;

  /** `path` is a file, or ":memory:" (tests). */
  constructor(path: string) {
    this.#path = path;
  }

  async start(): Promise<void> {
    if (this.#db) return;
    if (this.#path !== ":memory:") mkdirSync(dirname(this.#path), { recursive: true });
    const db = new DatabaseSync(this.#path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    this.#db = db;
    this.#migrate();
  }

  async close(): Promise<void> {
    this.#commit();
    this.#statements.clear();
    this.#db?.close();
    this.#db = undefined;
  }

  async ping(): Promise<void> {
    this.#sql("SELECT 1").get();
  }

  // Runs ------------------------------------------------------------------

  async createRun(run: NewRun, nodes: readonly string[]): Promise<RunRecord> {
    return this.#write(() => {
      this.#sql(
        `INSERT OR IGNORE INTO runs (id, seq, workflow_name, workflow_version, status, input, models, parent,
           nodes_total, created_at, deadline)
         VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM runs), ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
      ).run(
        run.id,
        run.workflow.name,
        run.workflow.version,
        json(run.input),
        json(run.models),
        run.parent === null ? null : json(run.parent),
        run.nodesTotal,
        run.createdAt,
        run.deadline,
      );
      const insert = this.#sql(
        "INSERT OR IGNORE INTO executions (key, run_id, node_id, status, updated_at) VALUES (?, ?, ?, 'pending', ?)",
      );
      for (const nodeId of nodes) insert.run(executionKey(run.id, nodeId), run.id, nodeId, run.createdAt);
      return this.#run(run.id) as RunRecord;
    });
  }

  async getRun(id: string): Promise<RunRecord | null> {
    return this.#run(id);
  }

  async transitionRun(
    id: string,
    from: readonly RunStatus[],
    patch: Partial<Pick<RunRecord, "status" | "output" | "error" | "startedAt" | "finishedAt">>,
  ): Promise<RunRecord | null> {
    return this.#write(() => {
      const row = this.#sql(
        `UPDATE runs SET
           status = coalesce(?, status),
           output = CASE WHEN ? THEN ? ELSE output END,
           error = CASE WHEN ? THEN ? ELSE error END,
           started_at = CASE WHEN ? THEN ? ELSE started_at END,
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END
         WHERE id = ? AND status IN (SELECT value FROM json_each(?))
         RETURNING *`,
      ).get(
        patch.status ?? null,
        "output" in patch ? 1 : 0,
        json(patch.output),
        "error" in patch ? 1 : 0,
        json(patch.error),
        "startedAt" in patch ? 1 : 0,
        patch.startedAt ?? null,
        "finishedAt" in patch ? 1 : 0,
        patch.finishedAt ?? null,
        id,
        json(from),
      );
      return row ? toRun(row) : null;
    });
  }

  async markRunFailing(id: string): Promise<void> {
    return this.#write(() => {
      this.#sql("UPDATE runs SET failing = 1 WHERE id = ?").run(id);
    });
  }

  async listRuns(query: {
    workflow?: string;
    status?: RunStatus;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: RunRecord[]; next: string | null }> {
    const before = query.cursor ? Number(query.cursor) : Number.MAX_SAFE_INTEGER;
    const rows = this.#sql(
      `SELECT * FROM runs
       WHERE seq < ? AND (? IS NULL OR workflow_name = ?) AND (? IS NULL OR status = ?)
       ORDER BY seq DESC LIMIT ?`,
    ).all(
      Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER,
      query.workflow ?? null,
      query.workflow ?? null,
      query.status ?? null,
      query.status ?? null,
      query.limit + 1,
    );
    const items = rows.slice(0, query.limit).map(toRun);
    const last = rows.length > query.limit ? rows[query.limit - 1] : undefined;
    return { items, next: last ? String(last.seq) : null };
  }

  async findOverdueRuns(now: number, limit: number): Promise<RunRecord[]> {
    return this.#sql(
      "SELECT * FROM runs WHERE status = 'running' AND deadline IS NOT NULL AND deadline < ? LIMIT ?",
    )
      .all(now, limit)
      .map(toRun);
  }

  async findUnfinishedRuns(limit: number): Promise<RunRecord[]> {
    return this.#sql("SELECT * FROM runs WHERE status IN ('pending', 'running') ORDER BY seq LIMIT ?")
      .all(limit)
      .map(toRun);
  }

  // Executions ------------------------------------------------------------

  async getExecution(key: string): Promise<ExecutionRecord | null> {
    const row = this.#sql("SELECT * FROM executions WHERE key = ?").get(key);
    return row ? toExecution(row) : null;
  }

  async getExecutions(
    runId: string,
    options: { nodeIds?: readonly string[]; items?: boolean } = {},
  ): Promise<ExecutionRecord[]> {
    // Separate statements, so each can use its index (an OR of optional filters cannot).
    if (options.nodeIds && !options.items) {
      const keys = options.nodeIds.map((nodeId) => executionKey(runId, nodeId));
      return this.#sql("SELECT * FROM executions WHERE key IN (SELECT value FROM json_each(?))")
        .all(json(keys))
        .map(toExecution);
    }
    if (options.nodeIds) {
      return this.#sql(
        `SELECT * FROM executions WHERE run_id = ? AND node_id IN (SELECT value FROM json_each(?))
         ORDER BY node_id, item`,
      )
        .all(runId, json(options.nodeIds))
        .map(toExecution);
    }
    const text = options.items
      ? "SELECT * FROM executions WHERE run_id = ? ORDER BY node_id, item"
      : "SELECT * FROM executions WHERE run_id = ? AND item IS NULL ORDER BY node_id";
    return this.#sql(text).all(runId).map(toExecution);
  }

  async getItems(runId: string, nodeId: string): Promise<ExecutionRecord[]> {
    return this.#sql(
      "SELECT * FROM executions WHERE run_id = ? AND node_id = ? AND item IS NOT NULL ORDER BY item",
    )
      .all(runId, nodeId)
      .map(toExecution);
  }

  async queueExecutions(keys: readonly string[], now: number): Promise<string[]> {
    const queue = () => {
      const update = this.#sql(
        "UPDATE executions SET status = 'queued', not_before = ?, updated_at = ? WHERE key = ? AND status = 'pending'",
      );
      return keys.filter((key) => Number(update.run(now, now, key).changes) === 1);
    };
    return this.#write(queue, NOT_DURABLE);
  }

  async claimExecution(
    key: string,
    lease: { token: string; until: number },
    now: number,
  ): Promise<ExecutionRecord | null> {
    return this.#write(() => {
      const row = this.#sql(
        `UPDATE executions SET status = 'running', attempt = attempt + 1, attempts_total = attempts_total + 1,
           lease_token = ?, lease_expires_at = ?, started_at = coalesce(started_at, ?), updated_at = ?
         WHERE key = ? AND status = 'queued' AND not_before <= ?
         RETURNING *`,
      ).get(lease.token, lease.until, now, now, key, now);
      return row ? toExecution(row) : null;
    }, NOT_DURABLE);
  }

  async renewLease(key: string, token: string, until: number): Promise<boolean> {
    return this.#write(() => {
      const result = this.#sql(
        "UPDATE executions SET lease_expires_at = ? WHERE key = ? AND status = 'running' AND lease_token = ?",
      ).run(until, key, token);
      return Number(result.changes) === 1;
    }, NOT_DURABLE);
  }

  async rescheduleExecution(
    key: string,
    token: string,
    next: { notBefore: number; error: Outcome["error"]; modelIndex?: number },
    now: number,
  ): Promise<boolean> {
    return this.#write(() => {
      const result = this.#sql(
        `UPDATE executions SET status = 'queued', lease_token = NULL, lease_expires_at = NULL,
           not_before = ?, error = ?, updated_at = ?,
           model_index = coalesce(?, model_index),
           attempt = CASE WHEN ? IS NULL THEN attempt ELSE 0 END
         WHERE key = ? AND status = 'running' AND lease_token = ?`,
      ).run(
        next.notBefore,
        json(next.error ?? null),
        now,
        next.modelIndex ?? null,
        next.modelIndex ?? null,
        key,
        token,
      );
      return Number(result.changes) === 1;
    });
  }

  async startWaiting(
    key: string,
    token: string,
    wait: { itemsTotal?: number; childRunId?: string; until?: number | null },
    now: number,
  ): Promise<boolean> {
    return this.#write(() => {
      // A waiting execution holds no lease; lease_expires_at then keeps its own deadline, if any.
      const result = this.#sql(
        `UPDATE executions SET lease_token = NULL, lease_expires_at = ?,
           items_total = coalesce(?, items_total), child_run_id = coalesce(?, child_run_id), updated_at = ?
         WHERE key = ? AND status = 'running' AND lease_token = ?`,
      ).run(wait.until ?? null, wait.itemsTotal ?? null, wait.childRunId ?? null, now, key, token);
      return Number(result.changes) === 1;
    });
  }

  async finishExecution(
    key: string,
    expect: { status: readonly ExecutionStatus[]; token?: string },
    outcome: Outcome,
    propagation: { dependents: readonly string[]; dependencyCounts: Readonly<Record<string, number>> },
    now: number,
  ): Promise<FinishResult | null> {
    return this.#write(() => {
      const row = this.#sql(
        `UPDATE executions SET status = ?, output = ?, error = ?, cached = ?, model = coalesce(?, model), usage = ?,
           lease_token = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
         WHERE key = ? AND status IN (SELECT value FROM json_each(?)) AND (? IS NULL OR lease_token = ?)
         RETURNING run_id, node_id, item`,
      ).get(
        outcome.status,
        json(outcome.output ?? null),
        json(outcome.error ?? null),
        outcome.cached ? 1 : 0,
        outcome.model ?? null,
        outcome.usage ? json(outcome.usage) : null,
        now,
        now,
        key,
        json(expect.status),
        expect.token ?? null,
        expect.token ?? null,
      );
      if (!row) return null;
      const runId = row.run_id as string;
      const nodeId = row.node_id as string;
      if (outcome.usage) {
        this.#sql(
          `UPDATE runs SET usage_input = usage_input + ?, usage_output = usage_output + ?,
             usage_total = usage_total + ? WHERE id = ?`,
        ).run(outcome.usage.inputTokens, outcome.usage.outputTokens, outcome.usage.totalTokens, runId);
      }
      if (row.item !== null) {
        const parent = this.#sql(
          "UPDATE executions SET items_done = items_done + 1 WHERE key = ? RETURNING items_done, items_total",
        ).get(executionKey(runId, nodeId));
        const items = parent ? { done: Number(parent.items_done), total: Number(parent.items_total) } : null;
        return { ready: [], runComplete: false, items };
      }
      const ready: string[] = [];
      const bump = this.#sql(
        "UPDATE executions SET deps_done = deps_done + 1 WHERE key = ? RETURNING deps_done, status",
      );
      for (const dependent of propagation.dependents) {
        const counted = bump.get(executionKey(runId, dependent));
        if (
          counted?.status === "pending" &&
          Number(counted.deps_done) === propagation.dependencyCounts[dependent]
        ) {
          ready.push(dependent);
        }
      }
      const run = this.#sql(
        "UPDATE runs SET nodes_done = nodes_done + 1 WHERE id = ? RETURNING nodes_done, nodes_total",
      ).get(runId);
      return {
        ready,
        runComplete: run !== undefined && Number(run.nodes_done) >= Number(run.nodes_total),
        items: null,
      };
    });
  }

  async createItems(runId: string, nodeId: string, items: readonly unknown[], now: number): Promise<void> {
    return this.#write(() => {
      const insert = this.#sql(
        `INSERT OR IGNORE INTO executions (key, run_id, node_id, item, input, status, updated_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
      );
      items.forEach((value, item) => {
        insert.run(executionKey(runId, nodeId, item), runId, nodeId, item, json(value), now);
      });
    });
  }

  async queueNextItems(runId: string, nodeId: string, limit: number, now: number): Promise<string[]> {
    return this.#write(() => {
      if (limit <= 0) return [];
      const rows = this.#sql(
        `UPDATE executions SET status = 'queued', not_before = ?, updated_at = ?
         WHERE key IN (SELECT key FROM executions
                       WHERE run_id = ? AND node_id = ? AND item IS NOT NULL AND status = 'pending'
                       ORDER BY item LIMIT ?)
         RETURNING key, item`,
      ).all(now, now, runId, nodeId, limit);
      return rows.sort((a, b) => Number(a.item) - Number(b.item)).map((row) => row.key as string);
    }, NOT_DURABLE);
  }

  async resetExecutions(
    runId: string,
    nodeIds: readonly string[],
    depsDoneAfterReset: Readonly<Record<string, number>>,
  ): Promise<void> {
    return this.#write(() => {
      const reset = this.#sql(
        `UPDATE executions SET status = 'pending', attempt = 0, model_index = 0, attempts_total = 0,
           lease_token = NULL, lease_expires_at = NULL, not_before = 0, items_total = 0, items_done = 0,
           output = NULL, error = NULL, cached = 0, model = NULL, usage = NULL, child_run_id = NULL,
           started_at = NULL, finished_at = NULL, updated_at = ?
         WHERE key = ?`,
      );
      const dropItems = this.#sql(
        "DELETE FROM executions WHERE run_id = ? AND node_id = ? AND item IS NOT NULL",
      );
      const now = Date.now();
      for (const nodeId of nodeIds) {
        reset.run(now, executionKey(runId, nodeId));
        dropItems.run(runId, nodeId);
      }
      const setDeps = this.#sql("UPDATE executions SET deps_done = ? WHERE key = ?");
      for (const [nodeId, done] of Object.entries(depsDoneAfterReset))
        setDeps.run(done, executionKey(runId, nodeId));
      this.#sql(
        `UPDATE runs SET failing = 0, nodes_done = (SELECT count(*) FROM executions
           WHERE run_id = ? AND item IS NULL AND status IN ('succeeded', 'failed', 'skipped', 'cancelled'))
         WHERE id = ?`,
      ).run(runId, runId);
    });
  }

  async sweepExpiredLeases(now: number, limit: number): Promise<string[]> {
    return this.#write(() => {
      return this.#sql(
        `UPDATE executions SET status = 'queued', lease_token = NULL, lease_expires_at = NULL, updated_at = ?
         WHERE key IN (SELECT key FROM executions
                       WHERE status = 'running' AND lease_token IS NOT NULL AND lease_expires_at < ? LIMIT ?)
         RETURNING key`,
      )
        .all(now, now, limit)
        .map((row) => row.key as string);
    });
  }

  async findOverdueWaiting(now: number, limit: number): Promise<ExecutionRecord[]> {
    return this.#sql(
      `SELECT * FROM executions
       WHERE status = 'running' AND lease_token IS NULL AND lease_expires_at IS NOT NULL AND lease_expires_at < ?
       LIMIT ?`,
    )
      .all(now, limit)
      .map(toExecution);
  }

  async findStrandedExecutions(now: number, before: number, limit: number): Promise<string[]> {
    return this.#write(() => {
      // Marked as touched now, so the next sweep waits a full grace period again.
      return this.#sql(
        `UPDATE executions SET updated_at = ?
         WHERE key IN (SELECT key FROM executions
                       WHERE status = 'queued' AND updated_at < ? AND not_before <= ? LIMIT ?)
         RETURNING key`,
      )
        .all(now, before, now, limit)
        .map((row) => row.key as string);
    });
  }

  async cancelExecutions(runId: string, status: "cancelled" | "skipped", now: number): Promise<string[]> {
    return this.#write(() => {
      const keys = this.#sql(
        `UPDATE executions SET status = ?, lease_token = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
         WHERE run_id = ? AND status IN ('pending', 'queued', 'running')
         RETURNING key`,
      )
        .all(status, now, now, runId)
        .map((row) => row.key as string);
      this.#sql(
        `UPDATE runs SET nodes_done = (SELECT count(*) FROM executions
           WHERE run_id = ? AND item IS NULL AND status IN ('succeeded', 'failed', 'skipped', 'cancelled'))
         WHERE id = ?`,
      ).run(runId, runId);
      return keys;
    });
  }

  // Result cache ------------------------------------------------------------

  async getCached(key: string, now: number): Promise<unknown | undefined> {
    const row = this.#sql("SELECT value, expires_at FROM cache WHERE key = ?").get(key);
    if (!row) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= now) {
      this.#sql("DELETE FROM cache WHERE key = ? AND expires_at <= ?").run(key, now);
      return undefined;
    }
    return JSON.parse(row.value as string);
  }

  async putCached(key: string, value: unknown, expiresAt: number | null): Promise<void> {
    return this.#write(() => {
      this.#sql("INSERT OR REPLACE INTO cache (key, value, expires_at) VALUES (?, ?, ?)").run(
        key,
        json(value),
        expiresAt,
      );
    });
  }

  // Definitions, idempotency, dead letters ----------------------------------

  async registerDefinition(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    now: number,
  ): Promise<{ record: DefinitionRecord; created: boolean }> {
    return this.#write(() => {
      const latest = this.#latestDefinition(definition.kind, definition.name);
      if (latest?.hash === definition.hash) return { record: latest, created: false };
      const version = (latest?.version ?? 0) + 1;
      this.#sql(
        "INSERT INTO definitions (kind, name, version, hash, source, compiled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).run(
        definition.kind,
        definition.name,
        version,
        definition.hash,
        definition.source,
        json(definition.compiled),
        now,
      );
      return { record: { ...definition, version, createdAt: now }, created: true };
    });
  }

  async getDefinition(
    kind: DefinitionRecord["kind"],
    name: string,
    version?: number,
  ): Promise<DefinitionRecord | null> {
    if (version === undefined) return this.#latestDefinition(kind, name);
    const row = this.#sql("SELECT * FROM definitions WHERE kind = ? AND name = ? AND version = ?").get(
      kind,
      name,
      version,
    );
    return row ? toDefinition(row) : null;
  }

  async listDefinitions(kind: DefinitionRecord["kind"]): Promise<DefinitionRecord[]> {
    return this.#sql(
      `SELECT d.* FROM definitions d
       JOIN (SELECT name, max(version) AS version FROM definitions WHERE kind = ? GROUP BY name) latest
         ON d.name = latest.name AND d.version = latest.version
       WHERE d.kind = ? ORDER BY d.name`,
    )
      .all(kind, kind)
      .map(toDefinition);
  }

  async claimIdempotencyKey(key: string, runId: string, now: number): Promise<string> {
    return this.#write(() => {
      this.#sql("INSERT OR IGNORE INTO idempotency_keys (key, run_id, created_at) VALUES (?, ?, ?)").run(
        key,
        runId,
        now,
      );
      return this.#sql("SELECT run_id FROM idempotency_keys WHERE key = ?").get(key)?.run_id as string;
    });
  }

  async addDeadLetter(letter: DeadLetter): Promise<void> {
    return this.#write(() => {
      this.#sql(
        `INSERT OR REPLACE INTO dead_letters (id, execution_key, run_id, node_id, reason, deliveries, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        letter.id,
        letter.executionKey,
        letter.runId,
        letter.nodeId,
        letter.reason,
        letter.deliveries,
        letter.createdAt,
      );
    });
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    return this.#sql("SELECT * FROM dead_letters ORDER BY created_at DESC, id LIMIT ?")
      .all(limit)
      .map(toDeadLetter);
  }

  async takeDeadLetter(id: string): Promise<DeadLetter | null> {
    return this.#write(() => {
      const row = this.#sql("DELETE FROM dead_letters WHERE id = ? RETURNING *").get(id);
      return row ? toDeadLetter(row) : null;
    });
  }

  // Internals ------------------------------------------------------------

  /** Each step re-reads the version inside its transaction: two processes may start at once. */
  #migrate(): void {
    const db = this.#database();
    for (;;) {
      const applied = this.#transactionNow(() => {
        const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
        if (version >= MIGRATIONS.length) return false;
        db.exec(MIGRATIONS[version] as string);
        db.exec(`PRAGMA user_version = ${version + 1}`);
        return true;
      });
      if (!applied) return;
    }
  }

  #database(): DatabaseSync {
    if (!this.#db) throw new Error("the SQLite store is not started");
    return this.#db;
  }

  #sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#database().prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Group commit. Writes join one transaction that stays open until the event
   * loop turns (setImmediate), so the transitions a burst of work makes share
   * one WAL write instead of paying a commit each. Each call is atomic on its
   * own (a savepoint) and its promise resolves only once the group has
   * committed: a caller that acks a delivery after awaiting a write acks durable
   * state, as the port promises. A failed commit rejects every write of the group.
   * Claims and queueing resolve at once (`durable: false`): losing one in a crash
   * only means the execution is delivered again, as recovery does anyway; the
   * port says so.
   */
  #write<T>(work: () => T, options: { durable: boolean } = { durable: true }): Promise<T> {
    const db = this.#database();
    if (this.#group === undefined) {
      db.exec("BEGIN IMMEDIATE");
      const group = Promise.withResolvers<void>();
      this.#group = group;
      setImmediate(() => this.#commit());
    }
    const committed = this.#group.promise;
    db.exec("SAVEPOINT write");
    let result: T;
    try {
      result = work();
      db.exec("RELEASE write");
    } catch (error) {
      db.exec("ROLLBACK TO write");
      db.exec("RELEASE write");
      return Promise.reject(error);
    }
    return options.durable ? committed.then(() => result) : Promise.resolve(result);
  }

  #commit(): void {
    const group = this.#group;
    if (group === undefined || !this.#db) return;
    this.#group = undefined;
    try {
      this.#db.exec("COMMIT");
      group.resolve();
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      group.reject(error);
    }
  }

  /** A transaction committed before it returns, for schema migrations at start. */
  #transactionNow<T>(work: () => T): T {
    const db = this.#database();
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  #run(id: string): RunRecord | null {
    const row = this.#sql("SELECT * FROM runs WHERE id = ?").get(id);
    return row ? toRun(row) : null;
  }

  #latestDefinition(kind: DefinitionRecord["kind"], name: string): DefinitionRecord | null {
    const row = this.#sql(
      "SELECT * FROM definitions WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1",
    ).get(kind, name);
    return row ? toDefinition(row) : null;
  }
}

type Row = Record<string, SQLInputValue>;

const NOT_DURABLE = { durable: false } as const;

function json(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

function parse<T>(text: SQLInputValue | undefined): T {
  return (text === null || text === undefined ? null : JSON.parse(text as string)) as T;
}

function nullableNumber(value: SQLInputValue | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function toRun(row: Row): RunRecord {
  const inputTokens = Number(row.usage_input);
  const outputTokens = Number(row.usage_output);
  const totalTokens = Number(row.usage_total);
  return {
    id: row.id as string,
    workflow: { name: row.workflow_name as string, version: Number(row.workflow_version) },
    status: row.status as RunStatus,
    input: parse(row.input),
    output: parse(row.output),
    error: parse<NodeError | null>(row.error),
    models: parse<Record<string, string>>(row.models),
    parent: parse(row.parent),
    failing: Number(row.failing) === 1,
    nodesTotal: Number(row.nodes_total),
    nodesDone: Number(row.nodes_done),
    usage: { inputTokens, outputTokens, totalTokens },
    createdAt: Number(row.created_at),
    startedAt: nullableNumber(row.started_at),
    finishedAt: nullableNumber(row.finished_at),
    deadline: nullableNumber(row.deadline),
  };
}

function toExecution(row: Row): ExecutionRecord {
  return {
    key: row.key as string,
    runId: row.run_id as string,
    nodeId: row.node_id as string,
    item: nullableNumber(row.item),
    status: row.status as ExecutionStatus,
    attempt: Number(row.attempt),
    modelIndex: Number(row.model_index),
    attemptsTotal: Number(row.attempts_total),
    leaseToken: (row.lease_token as string | null) ?? null,
    leaseExpiresAt: nullableNumber(row.lease_expires_at),
    notBefore: Number(row.not_before),
    itemsTotal: Number(row.items_total),
    input: parse(row.input),
    depsDone: Number(row.deps_done),
    output: parse(row.output),
    error: parse<NodeError | null>(row.error),
    cached: Number(row.cached) === 1,
    model: (row.model as string | null) ?? null,
    usage: parse<TokenUsage | null>(row.usage),
    childRunId: (row.child_run_id as string | null) ?? null,
    startedAt: nullableNumber(row.started_at),
    finishedAt: nullableNumber(row.finished_at),
    updatedAt: Number(row.updated_at),
  };
}

function toDefinition(row: Row): DefinitionRecord {
  return {
    kind: row.kind as DefinitionRecord["kind"],
    name: row.name as string,
    version: Number(row.version),
    hash: row.hash as string,
    source: row.source as string,
    compiled: parse(row.compiled),
    createdAt: Number(row.created_at),
  };
}

function toDeadLetter(row: Row): DeadLetter {
  return {
    id: row.id as string,
    executionKey: row.execution_key as string,
    runId: row.run_id as string,
    nodeId: row.node_id as string,
    reason: row.reason as string,
    deliveries: Number(row.deliveries),
    createdAt: Number(row.created_at),
  };
}
