/**
 * The embedded store's schema, versioned in code: migration N brings a database
 * from user_version N to N + 1. Never edit a released migration; add one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    workflow_name TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    models TEXT NOT NULL,
    parent TEXT,
    failing INTEGER NOT NULL DEFAULT 0,
    nodes_total INTEGER NOT NULL,
    nodes_done INTEGER NOT NULL DEFAULT 0,
    usage_input INTEGER NOT NULL DEFAULT 0,
    usage_output INTEGER NOT NULL DEFAULT 0,
    usage_total INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    deadline INTEGER
  );
  CREATE INDEX runs_by_workflow ON runs (workflow_name, seq);
  CREATE INDEX runs_by_status ON runs (status, seq);
  CREATE INDEX runs_overdue ON runs (deadline) WHERE status = 'running' AND deadline IS NOT NULL;

  CREATE TABLE executions (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    item INTEGER,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    model_index INTEGER NOT NULL DEFAULT 0,
    attempts_total INTEGER NOT NULL DEFAULT 0,
    lease_token TEXT,
    lease_expires_at INTEGER,
    not_before INTEGER NOT NULL DEFAULT 0,
    items_total INTEGER NOT NULL DEFAULT 0,
    items_done INTEGER NOT NULL DEFAULT 0,
    input TEXT,
    deps_done INTEGER NOT NULL DEFAULT 0,
    output TEXT,
    error TEXT,
    cached INTEGER NOT NULL DEFAULT 0,
    model TEXT,
    usage TEXT,
    child_run_id TEXT,
    started_at INTEGER,
    finished_at INTEGER,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX executions_by_run ON executions (run_id, node_id, item);
  CREATE INDEX executions_leased ON executions (lease_expires_at) WHERE status = 'running' AND lease_token IS NOT NULL;
  CREATE INDEX executions_queued ON executions (updated_at) WHERE status = 'queued';
  CREATE INDEX executions_pending_items ON executions (run_id, node_id, item) WHERE status = 'pending' AND item IS NOT NULL;

  CREATE TABLE cache (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at INTEGER
  );

  CREATE TABLE definitions (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    source TEXT NOT NULL,
    compiled TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, name, version)
  );

  CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE dead_letters (
    id TEXT PRIMARY KEY,
    execution_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    deliveries INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  `
  ALTER TABLE executions ADD COLUMN cost TEXT;
  ALTER TABLE runs ADD COLUMN cost TEXT NOT NULL DEFAULT '{}';
  `,
  `
  ALTER TABLE definitions ADD COLUMN actor TEXT;
  `,
  `
  ALTER TABLE executions ADD COLUMN leases_lost INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX executions_queued_due ON executions (not_before) WHERE status = 'queued';

  CREATE TABLE model_calls (
    model TEXT NOT NULL,
    minute INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    timeouts INTEGER NOT NULL,
    latency TEXT NOT NULL,
    PRIMARY KEY (model, minute)
  );
  `,
  `
  ALTER TABLE definitions ADD COLUMN reason TEXT;
  `,
  `
  ALTER TABLE executions ADD COLUMN rate_slot_at INTEGER;

  CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    next_slot_at INTEGER NOT NULL,
    tokens_free_at INTEGER NOT NULL
  );
  `,
  `
  ALTER TABLE runs ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE executions ADD COLUMN round INTEGER NOT NULL DEFAULT 1;

  CREATE TABLE history (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    round INTEGER NOT NULL,
    node_id TEXT,
    item INTEGER,
    attempt INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX history_by_age ON history (at);
  `,
  `
  ALTER TABLE executions ADD COLUMN wait_kind TEXT;
  ALTER TABLE executions ADD COLUMN wait_signal TEXT;
  ALTER TABLE executions ADD COLUMN signal_id TEXT;
  CREATE INDEX executions_timers ON executions (lease_expires_at) WHERE status = 'waiting' AND lease_expires_at IS NOT NULL;
  CREATE INDEX executions_waiting ON executions (wait_kind, updated_at, key) WHERE status = 'waiting';
  CREATE INDEX executions_waiting_signal ON executions (run_id, wait_signal) WHERE status = 'waiting';
  CREATE TABLE signals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    consumed_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX signals_open ON signals (run_id, name, seq) WHERE state IN ('new', 'kept');
  CREATE INDEX signals_unsettled ON signals (updated_at) WHERE state IN ('new', 'consumed');
  CREATE INDEX signals_consumed_by ON signals (consumed_by) WHERE state = 'consumed';
  `,
  `
  ALTER TABLE executions ADD COLUMN items_next INTEGER NOT NULL DEFAULT 0;
  DROP INDEX executions_pending_items;
  `,
];
