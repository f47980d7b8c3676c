import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { executionKey, type NewRun } from "../../../engine/store/records.ts";
import { MIGRATIONS } from "../../../engine/store/sqlite/migrations.ts";
import { SqliteStore } from "../../../engine/store/sqlite/sqlite-store.ts";
import { describeStoreContract } from "../../contract/store-contract.ts";
import { until } from "../../helpers/until.ts";

const directory = mkdtempSync(join(tmpdir(), "pflow-sqlite-store-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A new database file per call, in this file's temporary directory. */
/** createRun's arguments for a run of one node, `node`, of workflow `name`. */
function oneNodeRun(id: string, name: string, node: string, input: unknown = null): [NewRun, string[]] {
  return [
    {
      id,
      workflow: { name, version: 1 },
      input,
      models: {},
      parent: null,
      nodesTotal: 1,
      deadline: null,
      createdAt: 1,
    },
    [node],
  ];
}

function freshFile(): string {
  return join(directory, `${randomUUID()}.db`);
}

describeStoreContract("SQLite in memory", () => new SqliteStore(":memory:"));
describeStoreContract("SQLite file", () => new SqliteStore(freshFile()));

describe("SqliteStore (SQLite only)", () => {
  const open: SqliteStore[] = [];
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });
  async function started(path: string): Promise<SqliteStore> {
    const store = new SqliteStore(path);
    await store.start();
    open.push(store);
    return store;
  }
  function readPragma(path: string, pragma: string): unknown {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return Object.values(db.prepare(`PRAGMA ${pragma}`).get() ?? {})[0];
    } finally {
      db.close();
    }
  }

  // Not in the contract: "closing and reopening" means reopening the same file,
  // which only an embedded store has; a server-backed store is durable by its server.
  it("a committed transition survives closing and reopening the same file", async () => {
    const path = freshFile();
    const first = new SqliteStore(path);
    await first.start();
    const runId = randomUUID();
    await first.createRun(...oneNodeRun(runId, "durable", "a", { n: 1 }));
    await first.transitionRun(runId, ["pending"], { status: "running", startedAt: 2 });
    const key = executionKey(runId, "a");
    await first.queueExecutions([key], 2);
    await first.claimExecution(key, { token: "t", until: 100 }, 3);
    await first.finishExecution(
      key,
      { status: ["running"], token: "t" },
      { status: "succeeded", output: { kept: true } },
      { dependents: [], dependencyCounts: {} },
      4,
    );
    await first.close();

    const second = await started(path);
    expect(await second.getRun(runId)).toMatchObject({ status: "running", startedAt: 2, nodesDone: 1 });
    expect(await second.getExecution(key)).toMatchObject({
      status: "succeeded",
      output: { kept: true },
      attempt: 1,
    });
  });

  // Not in the contract: killing the process that holds the store, and opening its file
  // again, is what "the embedded default is durable" means; a server store survives by its server.
  it("a committed transition survives the process being killed without closing the store", async () => {
    const path = freshFile();
    const runId = randomUUID();
    const key = executionKey(runId, "a");
    const module = pathToFileURL(
      join(import.meta.dirname, "../../../engine/store/sqlite/sqlite-store.ts"),
    ).href;
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(module)});
      const store = new SqliteStore(${JSON.stringify(path)});
      await store.start();
      await store.createRun({ id: ${JSON.stringify(runId)}, workflow: { name: "killed", version: 1 }, input: null,
        models: {}, parent: null, nodesTotal: 1, deadline: null, createdAt: 1 }, ["a"]);
      await store.queueExecutions([${JSON.stringify(key)}], 2);
      await store.claimExecution(${JSON.stringify(key)}, { token: "t", until: 100 }, 3);
      await store.finishExecution(${JSON.stringify(key)}, { status: ["running"], token: "t" },
        { status: "succeeded", output: "kept" }, { dependents: [], dependencyCounts: {} }, 4);
      process.kill(process.pid, "SIGKILL");
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.signal, child.stderr).toBe("SIGKILL");

    const store = await started(path);
    expect(await store.getExecution(key)).toMatchObject({ status: "succeeded", output: "kept" });
    expect(await store.getRun(runId)).toMatchObject({ nodesDone: 1 });
  });

  // Not in the contract: writes share a transaction (group commit), which is this adapter's own;
  // another connection to the same file is how "committed when the promise resolves" shows.
  it("a write has committed by the time its promise resolves: another connection sees it", async () => {
    const path = freshFile();
    const store = await started(path);
    const key = `cache-${randomUUID()}`;
    const runId = randomUUID();
    await Promise.all([
      store.putCached(key, { v: 1 }, null),
      store.createRun(...oneNodeRun(runId, "seen", "a")),
    ]);
    const reader = new DatabaseSync(path, { readOnly: true });
    try {
      expect(reader.prepare("SELECT value FROM cache WHERE key = ?").get(key)).toEqual({ value: '{"v":1}' });
      expect(reader.prepare("SELECT status FROM runs WHERE id = ?").get(runId)).toEqual({
        status: "pending",
      });
    } finally {
      reader.close();
    }
  });

  // Not in the contract: making one write fail on demand needs an input only this adapter
  // rejects (a BigInt cannot be stored as JSON), and group commit is this adapter's own.
  it("a write that fails leaves nothing behind, and the other writes of its group still commit", async () => {
    const store = await started(freshFile());
    const runId = randomUUID();
    const run = store.createRun(...oneNodeRun(runId, "group", "m"));
    const failing = store.createItems(runId, "m", ["fine", 10n], 2);
    const after = store.putCached("after", true, null);
    await expect(failing).rejects.toThrow();
    await run;
    await after;
    expect(await store.getItems(runId, "m")).toEqual([]);
    expect(await store.getRun(runId)).toMatchObject({ status: "pending" });
    expect(await store.getCached("after", 0)).toBe(true);
  });

  // Not in the contract: schema migrations and PRAGMA user_version are SQLite's own.
  it("migrates a new file to the latest version, and does not re-run migrations on an existing one", async () => {
    const path = freshFile();
    const first = await started(path);
    await first.putCached("kept", 42, null);
    await first.close();
    open.splice(0);
    expect(readPragma(path, "user_version")).toBe(MIGRATIONS.length);

    const second = await started(path);
    expect(await second.getCached("kept", 0)).toBe(42);
    await second.close();
    open.splice(0);
    expect(readPragma(path, "user_version")).toBe(MIGRATIONS.length);
  });

  // Not in the contract: proves migrations are chosen by user_version alone — a file
  // already at the latest version gets no migration run against it, even with no tables.
  it("runs no migration on a file already at the latest version", async () => {
    const path = freshFile();
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
    db.close();
    const store = await started(path);
    await expect(store.getRun(randomUUID())).rejects.toThrow(/no such table/);
  });

  // Not in the contract: the journal mode is SQLite's own (readers never wait for the writer).
  it("uses the WAL journal mode", async () => {
    const path = freshFile();
    await started(path);
    expect(readPragma(path, "journal_mode")).toBe("wal");
  });

  /** A run with a map node "m", its `count` items created; as the map executor leaves it. */
  async function mapRun(store: SqliteStore, count: number): Promise<string> {
    const runId = randomUUID();
    await store.createRun(...oneNodeRun(runId, "map", "m"));
    await store.createItems(
      runId,
      "m",
      Array.from({ length: count }, (_, index) => index),
      2,
    );
    return runId;
  }

  // Not in the contract: the cursor on the map's row is how this adapter finds the next items.
  it("queueNextItems starts over after a retry resets the map, and passes over items queued without it", async () => {
    const path = freshFile();
    const store = await started(path);
    const runId = await mapRun(store, 5);
    const item = (index: number) => executionKey(runId, "m", index);
    expect(await store.queueNextItems(runId, "m", 2, 3)).toEqual([item(0), item(1)]);
    // A retry drops the items and resets the map; its new items are queued from the first.
    await store.resetExecutions(runId, ["m"], {}, 2);
    await store.createItems(runId, "m", ["a", "b", "c"], 4);
    expect(await store.queueNextItems(runId, "m", 2, 5)).toEqual([item(0), item(1)]);
    expect(await store.queueNextItems(runId, "m", 5, 6)).toEqual([item(2)]);
    expect(await store.queueNextItems(runId, "m", 1, 7)).toEqual([]);
    // An item that left pending with the cursor behind it (a map queued before the cursor
    // existed) is passed over, not queued again.
    const other = await mapRun(store, 4);
    const writer = new DatabaseSync(path);
    writer.exec("PRAGMA busy_timeout = 5000");
    writer
      .prepare("UPDATE executions SET status = 'queued' WHERE key IN (?, ?)")
      .run(executionKey(other, "m", 0), executionKey(other, "m", 1));
    writer.close();
    expect(await store.queueNextItems(other, "m", 3, 8)).toEqual([
      executionKey(other, "m", 2),
      executionKey(other, "m", 3),
    ]);
  });

  // Not in the contract: what this adapter keeps in memory (runs, the history's last
  // numbers) must give way to what another process commits to the same file.
  it("a run and its history written by another connection are read afresh", async () => {
    const path = freshFile();
    const store = await started(path);
    const runId = await mapRun(store, 1);
    expect(await store.getRun(runId)).toMatchObject({ status: "pending", failing: false });
    const writer = new DatabaseSync(path);
    writer.exec("PRAGMA busy_timeout = 5000");
    writer.prepare("UPDATE runs SET failing = 1 WHERE id = ?").run(runId);
    writer
      .prepare(
        "INSERT INTO history (run_id, seq, at, type, round, data) VALUES (?, 2, 3, 'run.started', 1, '{}')",
      )
      .run(runId);
    writer.close();
    expect(await store.getRun(runId)).toMatchObject({ status: "pending", failing: true });
    // The next event is numbered after the other connection's, not over it.
    expect(await store.transitionRun(runId, ["pending"], { status: "running", startedAt: 4 })).not.toBeNull();
    const events = await store.listHistory(runId, { limit: 10 });
    expect(events.map((event) => event.seq)).toEqual([1, 2, 3]);
  });

  // Not in the contract: checkpoints on a thread of their own are this adapter's.
  it("checkpoints the WAL on its own thread, well before the connection's own threshold", async () => {
    const path = freshFile();
    const store = await started(path);
    const before = statSync(path).size;
    // Each write its own group (awaited), each a page or two of its own: 40 commits, far
    // under the connection's 10,000-page auto-checkpoint, so only the thread copies them.
    for (let index = 0; index < 40; index++) await store.putCached(`page ${index}`, "x".repeat(4000), null);
    await until(
      async () => (statSync(path).size > before + 40 * 4000 ? true : undefined),
      4_000,
      "the database file to receive the WAL's pages",
    );
  });
});
