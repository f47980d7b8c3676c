import type { SQLInputValue } from "node:sqlite";
import type { HistoryEvent, HistoryNote } from "../../history/events.ts";
import {
  cancelNote,
  claimNotes,
  deferNotes,
  finishNotes,
  isRetry,
  leaseLostNotes,
  queuedNote,
  rescheduleNotes,
  runCreatedNote,
  runNotes,
  type Subject,
} from "../../history/notes.ts";
import { addCalls } from "../model-calls.ts";
import {
  type AttemptDetail,
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
  TERMINAL_RUN,
} from "../records.ts";
import { RunInputs } from "../run-inputs.ts";
import type { FinishResult, HistoryQuery, Store } from "../store.ts";
import { NOT_DURABLE, SqliteConnection } from "./connection.ts";
import { SqliteHistory } from "./history.ts";
import { multiRowInsert } from "./multi-row-insert.ts";
import {
  json,
  type Row,
  RUN_COLUMNS_BUT_INPUT,
  toDeadLetter,
  toDefinition,
  toExecution,
  toModelCalls,
  toRun,
  toRunWithInput,
} from "./rows.ts";
import { SqliteTriggers } from "./triggers.ts";
import { SqliteWaits } from "./waits.ts";

type Registration = { record: DefinitionRecord; created: boolean };

/** Items inserted by one statement at most. */
const ITEMS_PER_INSERT = 32;
const insertItemsText = multiRowInsert(
  "INSERT OR IGNORE INTO executions (key, run_id, node_id, item, input, status, updated_at, round)",
  "(?, ?, ?, ?, ?, 'pending', ?, ?)",
  ITEMS_PER_INSERT,
);

/** Runs kept in memory at most (see #run): past that they are all dropped, and read again. */
const KEPT_RUNS = 10_000;

/**
 * The embedded Store, on Node's built-in SQLite (see SqliteConnection: WAL, group
 * commit). Every method is one atomic write or a read; node:sqlite is
 * synchronous, so a method's statements never interleave with another's.
 */
export class SqliteStore implements Store {
  readonly #db: SqliteConnection;
  readonly #history: SqliteHistory;
  readonly waits: SqliteWaits;
  readonly #inputs = new RunInputs();
  /** Runs as last read or written, valid in connection generation `#runsIn`: see #run. */
  readonly #runs = new Map<string, RunRecord>();
  #runsIn = -1;
  readonly triggers: SqliteTriggers;

  /** `path` is a file, or ":memory:" (tests). */
  constructor(path: string) {
    this.#db = new SqliteConnection(path);
    this.#history = new SqliteHistory(this.#db);
    this.waits = new SqliteWaits(this.#db, (row, notes) => this.#record(row, notes));
    this.triggers = new SqliteTriggers(this.#db);
  }

  async start(): Promise<void> {
    this.#db.open();
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  async ping(): Promise<void> {
    this.#db.sql("SELECT 1").get();
  }

  // Runs ------------------------------------------------------------------

  async createRun(run: NewRun, nodes: readonly string[]): Promise<RunRecord> {
    return this.#db.write(() => {
      const created = this.#db
        .sql(
          `INSERT OR IGNORE INTO runs (id, seq, workflow_name, workflow_version, status, input, models, parent,
           nodes_total, created_at, deadline)
         VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM runs), ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
      if (Number(created.changes) === 1)
        this.#history.append(run.id, 1, [runCreatedNote(run.workflow, run.createdAt)]);
      const insert = this.#db.sql(
        "INSERT OR IGNORE INTO executions (key, run_id, node_id, status, updated_at) VALUES (?, ?, ?, 'pending', ?)",
      );
      for (const nodeId of nodes) insert.run(executionKey(run.id, nodeId), run.id, nodeId, run.createdAt);
      this.#runs.delete(run.id);
      return this.#run(run.id) as RunRecord;
    });
  }

  async getRun(id: string): Promise<RunRecord | null> {
    return this.#run(id);
  }

  async transitionRun(id: string, from: readonly RunStatus[], patch: RunPatch): Promise<RunRecord | null> {
    return this.#db.write(() => {
      const row = this.#db
        .sql(
          `UPDATE runs SET
           status = coalesce(?, status),
           output = CASE WHEN ? THEN ? ELSE output END,
           error = CASE WHEN ? THEN ? ELSE error END,
           started_at = CASE WHEN ? THEN ? ELSE started_at END,
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
           deadline = CASE WHEN ? THEN ? ELSE deadline END,
           round = round + ?
         WHERE id = ? AND status IN (SELECT value FROM json_each(?))
         RETURNING *`,
        )
        .get(
          patch.status ?? null,
          "output" in patch ? 1 : 0,
          json(patch.output),
          "error" in patch ? 1 : 0,
          json(patch.error),
          "startedAt" in patch ? 1 : 0,
          patch.startedAt ?? null,
          "finishedAt" in patch ? 1 : 0,
          patch.finishedAt ?? null,
          "deadline" in patch ? 1 : 0,
          patch.deadline ?? null,
          isRetry(from, patch) ? 1 : 0,
          id,
          json(from),
        );
      if (!row) return null;
      this.#runs.delete(id);
      const run = toRun(row);
      this.#history.append(id, run.round, runNotes(from, patch, transitionTime(patch)));
      return run;
    });
  }

  async markRunFailing(id: string): Promise<void> {
    return this.#db.write(() => {
      this.#db.sql("UPDATE runs SET failing = 1 WHERE id = ?").run(id);
      this.#runs.delete(id);
    });
  }

  async listRuns(query: {
    workflow?: string;
    status?: RunStatus;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: RunRecord[]; next: string | null }> {
    const before = query.cursor ? Number(query.cursor) : Number.MAX_SAFE_INTEGER;
    const rows = this.#db
      .sql(
        `SELECT * FROM runs
       WHERE seq < ? AND (? IS NULL OR workflow_name = ?) AND (? IS NULL OR status = ?)
       ORDER BY seq DESC LIMIT ?`,
      )
      .all(
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
    return this.#db
      .sql("SELECT * FROM runs WHERE status = 'running' AND deadline IS NOT NULL AND deadline < ? LIMIT ?")
      .all(now, limit)
      .map(toRun);
  }

  async findUnfinishedRuns(limit: number): Promise<RunRecord[]> {
    return this.#db
      .sql("SELECT * FROM runs WHERE status IN ('pending', 'running') ORDER BY seq LIMIT ?")
      .all(limit)
      .map(toRun);
  }

  // Executions ------------------------------------------------------------

  async getExecution(key: string): Promise<ExecutionRecord | null> {
    const row = this.#db.sql("SELECT * FROM executions WHERE key = ?").get(key);
    return row ? toExecution(row) : null;
  }

  async getExecutions(
    runId: string,
    options: { nodeIds?: readonly string[]; items?: boolean } = {},
  ): Promise<ExecutionRecord[]> {
    // Separate statements, so each can use its index (an OR of optional filters cannot).
    if (options.nodeIds && !options.items) {
      const keys = options.nodeIds.map((nodeId) => executionKey(runId, nodeId));
      return this.#db
        .sql("SELECT * FROM executions WHERE key IN (SELECT value FROM json_each(?))")
        .all(json(keys))
        .map(toExecution);
    }
    if (options.nodeIds) {
      return this.#db
        .sql(
          `SELECT * FROM executions WHERE run_id = ? AND node_id IN (SELECT value FROM json_each(?))
         ORDER BY node_id, item`,
        )
        .all(runId, json(options.nodeIds))
        .map(toExecution);
    }
    const text = options.items
      ? "SELECT * FROM executions WHERE run_id = ? ORDER BY node_id, item"
      : "SELECT * FROM executions WHERE run_id = ? AND item IS NULL ORDER BY node_id";
    return this.#db.sql(text).all(runId).map(toExecution);
  }

  async getItems(runId: string, nodeId: string): Promise<ExecutionRecord[]> {
    return this.#db
      .sql("SELECT * FROM executions WHERE run_id = ? AND node_id = ? AND item IS NOT NULL ORDER BY item")
      .all(runId, nodeId)
      .map(toExecution);
  }

  async queueExecutions(keys: readonly string[], now: number): Promise<string[]> {
    const queue = () => {
      const update = this.#db.sql(
        `UPDATE executions SET status = 'queued', not_before = ?, updated_at = ? WHERE key = ? AND status = 'pending'
         RETURNING run_id, node_id, item, attempts_total, round`,
      );
      return keys.filter((key) => {
        const row = update.get(now, now, key);
        if (row) this.#record(row, [queuedNote(subjectOf(row), now)]);
        return row !== undefined;
      });
    };
    return this.#db.write(queue, NOT_DURABLE);
  }

  async claimExecution(
    key: string,
    lease: { token: string; until: number },
    now: number,
  ): Promise<ExecutionRecord | null> {
    return this.#db.write(() => {
      const row = this.#db
        .sql(
          `UPDATE executions SET status = 'running', attempt = attempt + 1, attempts_total = attempts_total + 1,
           lease_token = ?, lease_expires_at = ?, started_at = coalesce(started_at, ?), updated_at = ?
         WHERE key = ? AND status = 'queued' AND not_before <= ?
         RETURNING *`,
        )
        .get(lease.token, lease.until, now, now, key, now);
      if (!row) return null;
      const execution = toExecution(row);
      this.#record(row, claimNotes(subjectOf(row), now));
      return execution;
    }, NOT_DURABLE);
  }

  async renewLease(key: string, token: string, until: number): Promise<boolean> {
    return this.#db.write(() => {
      const result = this.#db
        .sql(
          "UPDATE executions SET lease_expires_at = ? WHERE key = ? AND status = 'running' AND lease_token = ?",
        )
        .run(until, key, token);
      return Number(result.changes) === 1;
    }, NOT_DURABLE);
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
    return this.#db.write(() => {
      const row = this.#db
        .sql(
          `UPDATE executions SET status = 'queued', lease_token = NULL, lease_expires_at = NULL,
           not_before = ?, error = ?, updated_at = ?, rate_slot_at = NULL,
           model_index = coalesce(?, model_index),
           attempt = CASE WHEN ? IS NULL THEN attempt ELSE 0 END
         WHERE key = ? AND status = 'running' AND lease_token = ?
         RETURNING run_id, node_id, item, attempts_total, round`,
        )
        .get(
          next.notBefore,
          json(next.error ?? null),
          now,
          next.modelIndex ?? null,
          next.modelIndex ?? null,
          key,
          token,
        );
      if (row) this.#record(row, rescheduleNotes(subjectOf(row), next, now));
      return row !== undefined;
    });
  }

  async deferExecution(
    key: string,
    token: string,
    next: { notBefore: number; rateSlotAt: number | null },
    now: number,
  ): Promise<boolean> {
    return this.#db.write(() => {
      const row = this.#db
        .sql(
          `UPDATE executions SET status = 'queued', lease_token = NULL, lease_expires_at = NULL,
           not_before = ?, rate_slot_at = ?, updated_at = ?,
           attempt = attempt - 1, attempts_total = attempts_total - 1
         WHERE key = ? AND status = 'running' AND lease_token = ?
         RETURNING run_id, node_id, item, attempts_total + 1 AS attempts_total, round`,
        )
        .get(next.notBefore, next.rateSlotAt, now, key, token);
      // The claim handed back was the attempt after the ones that count.
      if (row) this.#record(row, deferNotes(subjectOf(row), next.notBefore, now));
      return row !== undefined;
    });
  }

  async startWaiting(
    key: string,
    token: string,
    wait: { itemsTotal?: number; childRunId?: string; until?: number | null },
    now: number,
  ): Promise<boolean> {
    return this.#db.write(() => {
      // A waiting execution holds no lease; lease_expires_at then keeps its own deadline, if any.
      const result = this.#db
        .sql(
          `UPDATE executions SET lease_token = NULL, lease_expires_at = ?,
           items_total = coalesce(?, items_total), child_run_id = coalesce(?, child_run_id), updated_at = ?
         WHERE key = ? AND status = 'running' AND lease_token = ?`,
        )
        .run(wait.until ?? null, wait.itemsTotal ?? null, wait.childRunId ?? null, now, key, token);
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
    return this.#db.write(() => {
      // The status it leaves decides its events (a running execution's attempt ends with it).
      const before =
        expect.status.length === 1
          ? expect.status[0]
          : (this.#db.sql("SELECT status FROM executions WHERE key = ?").get(key)?.status as ExecutionStatus);
      const row = this.#db
        .sql(
          `UPDATE executions SET status = ?, output = ?, error = ?, cached = ?, model = coalesce(?, model), usage = ?,
           lease_token = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
         WHERE key = ? AND status IN (SELECT value FROM json_each(?)) AND (? IS NULL OR lease_token = ?)
         RETURNING run_id, node_id, item, attempts_total, round`,
        )
        .get(
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
      // Below, the run's row changes (its count, cost, usage, failing) unless this is a plain map item.
      if (row.item === null || outcome.failsRun || outcome.cost || outcome.usage) this.#runs.delete(runId);
      this.#record(row, finishNotes(subjectOf(row), before as ExecutionStatus, outcome, now));
      if (outcome.failsRun) this.#db.sql("UPDATE runs SET failing = 1 WHERE id = ?").run(runId);
      if (outcome.cost) {
        this.#db.sql("UPDATE executions SET cost = ? WHERE key = ?").run(json(outcome.cost), key);
        this.#db
          .sql(
            `UPDATE runs SET cost = json_set(cost, '$."' || ? || '"', coalesce(json_extract(cost, '$."' || ? || '"'), 0) + ?)
             WHERE id = ?`,
          )
          .run(outcome.cost.currency, outcome.cost.currency, outcome.cost.amount, runId);
      }
      if (outcome.usage) {
        this.#db
          .sql(
            `UPDATE runs SET usage_input = usage_input + ?, usage_output = usage_output + ?,
             usage_total = usage_total + ? WHERE id = ?`,
          )
          .run(outcome.usage.inputTokens, outcome.usage.outputTokens, outcome.usage.totalTokens, runId);
      }
      if (row.item !== null) {
        const parent = this.#db
          .sql(
            "UPDATE executions SET items_done = items_done + 1 WHERE key = ? RETURNING items_done, items_total",
          )
          .get(executionKey(runId, nodeId));
        const items = parent ? { done: Number(parent.items_done), total: Number(parent.items_total) } : null;
        return { ready: [], runComplete: false, items };
      }
      const ready: string[] = [];
      const bump = this.#db.sql(
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
      const run = this.#db
        .sql("UPDATE runs SET nodes_done = nodes_done + 1 WHERE id = ? RETURNING nodes_done, nodes_total")
        .get(runId);
      return {
        ready,
        runComplete: run !== undefined && Number(run.nodes_done) >= Number(run.nodes_total),
        items: null,
      };
    });
  }

  async createItems(runId: string, nodeId: string, items: readonly unknown[], now: number): Promise<void> {
    return this.#db.write(() => {
      const map = this.#db.sql("SELECT round FROM executions WHERE key = ?").get(executionKey(runId, nodeId));
      const round = Number(map?.round ?? 1);
      // Rows of ITEMS_PER_INSERT items a statement: a statement's step costs more than its row.
      for (let start = 0; start < items.length; start += ITEMS_PER_INSERT) {
        const count = Math.min(ITEMS_PER_INSERT, items.length - start);
        const values: SQLInputValue[] = [];
        for (let item = start; item < start + count; item++) {
          values.push(executionKey(runId, nodeId, item), runId, nodeId, item, json(items[item]), now, round);
        }
        this.#db.sql(insertItemsText(count)).run(...values);
      }
    });
  }

  /**
   * The map's row keeps a cursor (items_next): every item below it has left
   * `pending`, since items are only ever queued from here, in order, and a
   * retry deletes them. So the next items are found by key from the cursor:
   * one indexed update per item queued, where a search for the lowest pending
   * items (an UPDATE with a subquery over a partial index of pending items, the
   * index itself maintained at every item's every move) cost several times
   * that and was the first entry of the burst's profile. An item found not
   * pending (cancelled; queued before the cursor existed) is passed over once.
   */
  async queueNextItems(runId: string, nodeId: string, limit: number, now: number): Promise<string[]> {
    return this.#db.write(() => {
      if (limit <= 0) return [];
      const mapKey = executionKey(runId, nodeId);
      const cursor = this.#db.sql("SELECT items_next, items_total FROM executions WHERE key = ?").get(mapKey);
      const queue = this.#db.sql(
        `UPDATE executions SET status = 'queued', not_before = ?, updated_at = ? WHERE key = ? AND status = 'pending'
         RETURNING key, run_id, node_id, item, attempts_total, round`,
      );
      const exists = this.#db.sql("SELECT 1 FROM executions WHERE key = ?");
      const keys: string[] = [];
      let next = Number(cursor?.items_next ?? 0);
      // Known once the map waits on its items (startWaiting); before, the items' keys say.
      const total = Number(cursor?.items_total ?? 0) || Number.POSITIVE_INFINITY;
      while (keys.length < limit && next < total) {
        const key = executionKey(runId, nodeId, next);
        const row = queue.get(now, now, key);
        if (row) {
          this.#record(row, [queuedNote(subjectOf(row), now)]);
          keys.push(key);
        } else if (exists.get(key) === undefined) {
          break; // past the last item
        }
        next++;
      }
      if (cursor) this.#db.sql("UPDATE executions SET items_next = ? WHERE key = ?").run(next, mapKey);
      return keys;
    }, NOT_DURABLE);
  }

  async resetExecutions(
    runId: string,
    nodeIds: readonly string[],
    depsDoneAfterReset: Readonly<Record<string, number>>,
    round: number,
  ): Promise<void> {
    return this.#db.write(() => {
      const reset = this.#db.sql(
        `UPDATE executions SET status = 'pending', attempt = 0, model_index = 0, attempts_total = 0, leases_lost = 0, rate_slot_at = NULL,
           lease_token = NULL, lease_expires_at = NULL, not_before = 0, items_total = 0, items_done = 0,
           output = NULL, error = NULL, cached = 0, model = NULL, usage = NULL, child_run_id = NULL, items_next = 0,
           started_at = NULL, finished_at = NULL, updated_at = ?, round = ?
         WHERE key = ?`,
      );
      const dropItems = this.#db.sql(
        "DELETE FROM executions WHERE run_id = ? AND node_id = ? AND item IS NOT NULL",
      );
      const now = Date.now();
      for (const nodeId of nodeIds) {
        reset.run(now, round, executionKey(runId, nodeId));
        dropItems.run(runId, nodeId);
      }
      const setDeps = this.#db.sql("UPDATE executions SET deps_done = ? WHERE key = ?");
      for (const [nodeId, done] of Object.entries(depsDoneAfterReset))
        setDeps.run(done, executionKey(runId, nodeId));
      this.#runs.delete(runId);
      this.#db
        .sql(
          `UPDATE runs SET failing = 0, nodes_done = (SELECT count(*) FROM executions
           WHERE run_id = ? AND item IS NULL AND status IN ('succeeded', 'failed', 'skipped', 'cancelled'))
         WHERE id = ?`,
        )
        .run(runId, runId);
    });
  }

  async sweepExpiredLeases(now: number, limit: number, expiredBefore = now): Promise<string[]> {
    return this.#db.write(() => {
      const rows = this.#db
        .sql(
          `UPDATE executions SET status = 'queued', lease_token = NULL, lease_expires_at = NULL,
           leases_lost = leases_lost + 1, not_before = ?1, updated_at = ?1
         WHERE key IN (SELECT key FROM executions
                       WHERE status = 'running' AND lease_token IS NOT NULL AND lease_expires_at < ? LIMIT ?)
         RETURNING key, run_id, node_id, item, attempts_total, round`,
        )
        .all(now, expiredBefore, limit);
      for (const row of rows) this.#record(row, leaseLostNotes(subjectOf(row), now));
      return rows.map((row) => row.key as string);
    });
  }

  async findOverdueWaiting(now: number, limit: number): Promise<ExecutionRecord[]> {
    return this.#db
      .sql(
        `SELECT * FROM executions
       WHERE status IN ('running', 'waiting') AND lease_token IS NULL
         AND lease_expires_at IS NOT NULL AND lease_expires_at < ?
       LIMIT ?`,
      )
      .all(now, limit)
      .map(toExecution);
  }

  async oldestDueQueued(now: number): Promise<number | null> {
    const row = this.#db
      .sql("SELECT min(not_before) AS oldest FROM executions WHERE status = 'queued' AND not_before <= ?")
      .get(now);
    return row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest);
  }

  async findStrandedExecutions(now: number, before: number, limit: number): Promise<string[]> {
    return this.#db.write(() => {
      // Marked as touched now, so the next sweep waits a full grace period again.
      return this.#db
        .sql(
          `UPDATE executions SET updated_at = ?
         WHERE key IN (SELECT key FROM executions
                       WHERE status = 'queued' AND updated_at < ? AND not_before <= ? LIMIT ?)
         RETURNING key`,
        )
        .all(now, before, now, limit)
        .map((row) => row.key as string);
    });
  }

  /** Propagation happens in the transition's transaction: never interrupted. */
  async findUnpropagated(): Promise<ExecutionRecord[]> {
    return [];
  }

  async resumePropagation(): Promise<string[]> {
    return [];
  }

  async cancelExecutions(runId: string, status: "cancelled" | "skipped", now: number): Promise<string[]> {
    return this.#db.write(() => {
      const keys = this.#db
        .sql(
          `UPDATE executions SET status = ?, lease_token = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
         WHERE run_id = ? AND status IN ('pending', 'queued', 'running', 'waiting')
         RETURNING key, run_id, node_id, item, attempts_total, round`,
        )
        .all(status, now, now, runId)
        .sort((a, b) => String(a.key).localeCompare(String(b.key)))
        .map((row) => {
          this.#record(row, [cancelNote(subjectOf(row), status, now)]);
          return row.key as string;
        });
      this.#runs.delete(runId);
      this.#db
        .sql(
          `UPDATE runs SET nodes_done = (SELECT count(*) FROM executions
           WHERE run_id = ? AND item IS NULL AND status IN ('succeeded', 'failed', 'skipped', 'cancelled'))
         WHERE id = ?`,
        )
        .run(runId, runId);
      return keys;
    });
  }

  // History -----------------------------------------------------------------

  listHistory(runId: string, query: HistoryQuery): Promise<HistoryEvent[]> {
    return this.#history.list(runId, query);
  }

  deleteHistory(before: number, limit: number): Promise<number> {
    return this.#history.delete(before, limit);
  }

  /** Events are numbered in their transition's transaction: none is ever left to number. */
  async repairHistory(): Promise<number> {
    return 0;
  }

  onHistory(listener: (runId: string) => void): () => void {
    return this.#history.listen(listener);
  }

  // Result cache ------------------------------------------------------------

  async getCached(key: string, now: number): Promise<unknown | undefined> {
    const row = this.#db.sql("SELECT value, expires_at FROM cache WHERE key = ?").get(key);
    if (!row) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= now) {
      await this.#db.write(() => {
        this.#db.sql("DELETE FROM cache WHERE key = ? AND expires_at <= ?").run(key, now);
      }, NOT_DURABLE);
      return undefined;
    }
    return JSON.parse(row.value as string);
  }

  async putCached(key: string, value: unknown, expiresAt: number | null): Promise<void> {
    return this.#db.write(() => {
      this.#db
        .sql("INSERT OR REPLACE INTO cache (key, value, expires_at) VALUES (?, ?, ?)")
        .run(key, json(value), expiresAt);
    });
  }

  // Definitions, idempotency, dead letters ----------------------------------

  async registerDefinition(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    now: number,
  ): Promise<{ record: DefinitionRecord; created: boolean }> {
    return this.#db.write(() => this.#registerDefinition(definition, undefined, now) as Registration);
  }

  async registerDefinitionIfLatest(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    basedOn: number,
    now: number,
  ): Promise<Registration | null> {
    return this.#db.write(() => this.#registerDefinition(definition, basedOn, now));
  }

  async getDefinition(
    kind: DefinitionRecord["kind"],
    name: string,
    version?: number,
  ): Promise<DefinitionRecord | null> {
    if (version === undefined) return this.#latestDefinition(kind, name);
    const row = this.#db
      .sql("SELECT * FROM definitions WHERE kind = ? AND name = ? AND version = ?")
      .get(kind, name, version);
    return row ? toDefinition(row) : null;
  }

  async listDefinitions(kind: DefinitionRecord["kind"]): Promise<DefinitionRecord[]> {
    return this.#db
      .sql(
        `SELECT d.* FROM definitions d
       JOIN (SELECT name, max(version) AS version FROM definitions WHERE kind = ? GROUP BY name) latest
         ON d.name = latest.name AND d.version = latest.version
       WHERE d.kind = ? ORDER BY d.name`,
      )
      .all(kind, kind)
      .map(toDefinition);
  }

  async listDefinitionVersions(kind: DefinitionRecord["kind"], name: string): Promise<DefinitionRecord[]> {
    return this.#db
      .sql("SELECT * FROM definitions WHERE kind = ? AND name = ? ORDER BY version")
      .all(kind, name)
      .map(toDefinition);
  }

  async claimIdempotencyKey(key: string, runId: string, now: number): Promise<string> {
    return this.#db.write(() => {
      this.#db
        .sql("INSERT OR IGNORE INTO idempotency_keys (key, run_id, created_at) VALUES (?, ?, ?)")
        .run(key, runId, now);
      return this.#db.sql("SELECT run_id FROM idempotency_keys WHERE key = ?").get(key)?.run_id as string;
    });
  }

  async takeRateSlot(key: string, intervalMs: number, now: number): Promise<RateSlot> {
    return this.#db.write(() => {
      // One statement: the slot after the last one reserved, or now if that is past.
      const row = this.#db
        .sql(
          `INSERT INTO rate_limits (key, next_slot_at, tokens_free_at) VALUES (?1, ?2 + ?3, 0)
           ON CONFLICT (key) DO UPDATE SET next_slot_at = max(next_slot_at, ?2) + ?3
           RETURNING next_slot_at, tokens_free_at`,
        )
        .get(key, now, intervalMs) as Row;
      return {
        startAt: Number(row.next_slot_at) - intervalMs,
        tokensFreeAt: Number(row.tokens_free_at),
      };
    }, NOT_DURABLE);
  }

  async chargeRateTokens(key: string, costMs: number, now: number): Promise<void> {
    return this.#db.write(() => {
      this.#db
        .sql(
          `INSERT INTO rate_limits (key, next_slot_at, tokens_free_at) VALUES (?1, 0, ?2 + ?3)
           ON CONFLICT (key) DO UPDATE SET tokens_free_at = max(tokens_free_at, ?2) + ?3`,
        )
        .run(key, now, costMs);
    }, NOT_DURABLE);
  }

  async recordModelCalls(samples: readonly ModelCallSample[]): Promise<void> {
    if (samples.length === 0) return;
    return this.#db.write(() => {
      // Read and write back in one synchronous transaction: nothing interleaves.
      const read = this.#db.sql(
        "SELECT calls, errors, timeouts, latency FROM model_calls WHERE model = ? AND minute = ?",
      );
      const write = this.#db.sql(
        "INSERT OR REPLACE INTO model_calls (model, minute, calls, errors, timeouts, latency) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const sample of samples) {
        const row = read.get(sample.model, sample.minute);
        const sum = row ? addCalls(toModelCalls(row), sample) : sample;
        write.run(
          sample.model,
          sample.minute,
          sum.calls,
          sum.errors,
          sum.timeouts,
          JSON.stringify(sum.latency),
        );
      }
    });
  }

  async modelCalls(models: readonly string[], since: number): Promise<Record<string, ModelCalls>> {
    const result: Record<string, ModelCalls> = {};
    if (models.length === 0) return result;
    const rows = this.#db
      .sql(
        `SELECT model, calls, errors, timeouts, latency FROM model_calls
         WHERE minute >= ? AND model IN (${models.map(() => "?").join(", ")})`,
      )
      .all(since, ...models);
    for (const row of rows) {
      const model = row.model as string;
      const calls = toModelCalls(row);
      result[model] = result[model] ? addCalls(result[model], calls) : calls;
    }
    return result;
  }

  async addDeadLetter(letter: DeadLetter): Promise<void> {
    return this.#db.write(() => {
      this.#db
        .sql(
          `INSERT OR REPLACE INTO dead_letters (id, execution_key, run_id, node_id, reason, deliveries, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
    return this.#db
      .sql("SELECT * FROM dead_letters ORDER BY created_at DESC, id LIMIT ?")
      .all(limit)
      .map(toDeadLetter);
  }

  async takeDeadLetter(id: string): Promise<DeadLetter | null> {
    return this.#db.write(() => {
      const row = this.#db.sql("DELETE FROM dead_letters WHERE id = ? RETURNING *").get(id);
      return row ? toDeadLetter(row) : null;
    });
  }

  // Internals ------------------------------------------------------------

  /** Inside a write: the notes of an execution's transition, in its run's history, in the execution's round. */
  #record(row: Row, notes: readonly HistoryNote[]): void {
    this.#history.append(row.run_id as string, Number(row.round), notes);
  }

  /**
   * A run as this connection last read it, if nothing has written its row
   * since: every write to a run's row here forgets it, and another process's
   * commit (or a roll-back) starts a new connection generation, which forgets
   * them all. Every claim reads its run, so this spares a read and five JSON
   * parses per node execution. Ended runs are not kept. Otherwise one read: without the input when
   * RunInputs has it, else with it (then kept there). A copy each time: callers
   * treat records as read-only, but a slip would otherwise change what others see.
   */
  #run(id: string): RunRecord | null {
    const generation = this.#db.generation;
    if (generation !== this.#runsIn || this.#runs.size >= KEPT_RUNS) {
      this.#runs.clear();
      this.#runsIn = generation;
    }
    const kept = this.#runs.get(id);
    if (kept) return { ...kept };
    const input = this.#inputs.cached(id);
    const row = this.#db.sql(`SELECT ${input ? RUN_COLUMNS_BUT_INPUT : "*"} FROM runs WHERE id = ?`).get(id);
    if (!row) return null;
    const run = toRunWithInput(row, input ? input.value : this.#inputs.parse(id, row.input as string));
    // Only runs that go on: an ended run is read again seldom, and kept it would only take memory.
    if (!TERMINAL_RUN.has(run.status)) this.#runs.set(id, run);
    return { ...run };
  }

  /** Inside a write: the check and the insert are one transaction, so nothing comes between them. */
  #registerDefinition(
    definition: Omit<DefinitionRecord, "version" | "createdAt">,
    basedOn: number | undefined,
    now: number,
  ): Registration | null {
    const latest = this.#latestDefinition(definition.kind, definition.name);
    if (basedOn !== undefined && (latest?.version ?? 0) !== basedOn) return null;
    if (latest?.hash === definition.hash) return { record: latest, created: false };
    const version = (latest?.version ?? 0) + 1;
    const record: DefinitionRecord = {
      ...definition,
      actor: definition.actor ?? null,
      reason: definition.reason ?? null,
      version,
      createdAt: now,
    };
    this.#db
      .sql(
        `INSERT INTO definitions (kind, name, version, hash, source, compiled, created_at, actor, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.kind,
        record.name,
        version,
        record.hash,
        record.source,
        json(record.compiled),
        now,
        record.actor ?? null,
        record.reason ?? null,
      );
    return { record, created: true };
  }

  #latestDefinition(kind: DefinitionRecord["kind"], name: string): DefinitionRecord | null {
    const row = this.#db
      .sql("SELECT * FROM definitions WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1")
      .get(kind, name);
    return row ? toDefinition(row) : null;
  }
}

/** The execution a transition's row (RETURNING run_id, node_id, item, attempts_total, round) is about. */
function subjectOf(row: Row): Subject {
  return {
    nodeId: row.node_id as string,
    item: row.item === null || row.item === undefined ? null : Number(row.item),
    attempt: Number(row.attempts_total),
  };
}

/** When a run's transition happened: the time it sets, else now. */
function transitionTime(patch: { startedAt?: number | null; finishedAt?: number | null }): number {
  return patch.finishedAt ?? patch.startedAt ?? Date.now();
}
