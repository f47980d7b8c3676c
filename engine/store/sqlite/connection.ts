import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { Checkpointer } from "./checkpointer.ts";
import { MIGRATIONS } from "./migrations.ts";

/**
 * One SQLite database file, WAL mode: readers never wait for the writer, and a
 * process killed at any point loses no committed write. Statements are prepared
 * once and cached. synchronous=NORMAL is durable across a process crash (what
 * the engine promises); a power cut may lose the last moments.
 */
export const NOT_DURABLE = { durable: false } as const;

/**
 * Files open in this process. Group commit keeps a write transaction open until
 * the event loop turns, so a second connection to the same file in the same
 * process would block the loop waiting for a lock only the loop can release.
 * One connection per file per process is the embedded store's rule.
 */
const openFiles = new Set<string>();

const CHECKPOINT_PAGES = 10_000;
/** Commits between the checkpoints asked of the checkpointer thread. */
const CHECKPOINT_COMMITS = 32;

export class SqliteConnection {
  readonly #path: string;
  #db: DatabaseSync | undefined;
  readonly #statements = new Map<string, StatementSync>();
  #group: PromiseWithResolvers<void> | undefined;
  #checkpointer: Checkpointer | undefined;
  #generation = 0;
  /** PRAGMA data_version when this connection last looked: it changes when another connection commits. */
  #dataVersion = -1;

  /** `path` is a file, or ":memory:". */
  constructor(path: string) {
    this.#path = path;
  }

  open(): void {
    if (this.#db) return;
    if (this.#path !== ":memory:") {
      const file = resolve(this.#path);
      if (openFiles.has(file)) {
        throw new Error(
          `${file} is already open in this process: the embedded store allows one connection per file`,
        );
      }
      mkdirSync(dirname(file), { recursive: true });
      openFiles.add(file);
    }
    const db = new DatabaseSync(this.#path);
    this.#dataVersion = -1;
    this.#generation++; // what was kept from an earlier opening may be out of date
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    // Checkpoints are the checkpointer thread's (./checkpointer.ts). This
    // connection's own, inside a commit on the event loop, are the backstop,
    // at 10,000 WAL pages (40 MB) rather than SQLite's 1,000: at 1,000 the
    // commits that checkpointed took two thirds of all commit time in the
    // 500-run burst.
    db.exec(`PRAGMA wal_autocheckpoint = ${CHECKPOINT_PAGES}`);
    this.#db = db;
    this.#migrate();
    if (this.#path !== ":memory:")
      this.#checkpointer = new Checkpointer(resolve(this.#path), CHECKPOINT_COMMITS);
  }

  /** Commits what is pending and closes; resolves once the checkpointer thread has stopped too. */
  close(): Promise<void> {
    this.#commit();
    this.#statements.clear();
    this.#db?.close();
    if (this.#db && this.#path !== ":memory:") openFiles.delete(resolve(this.#path));
    this.#db = undefined;
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    return checkpointer ? checkpointer.stop() : Promise.resolve();
  }

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

  sql(text: string): StatementSync {
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
  write<T>(work: () => T, options: { durable: boolean } = { durable: true }): Promise<T> {
    const db = this.#database();
    if (this.#group === undefined) {
      db.exec("BEGIN IMMEDIATE");
      this.#seeOtherWriters();
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
      this.#generation++;
      db.exec("ROLLBACK TO write");
      db.exec("RELEASE write");
      return Promise.reject(error);
    }
    return options.durable ? committed.then(() => result) : Promise.resolve(result);
  }

  /**
   * Changes whenever another connection (another process) has committed since
   * this one last wrote, and whenever a write or a group's commit is rolled
   * back: what this connection read or wrote earlier in the same generation is
   * still what the file holds, so it may be kept in memory (the history's last
   * numbers, the store's runs). Another process's commit is seen through
   * PRAGMA data_version: asked here when no group is open, and when a group's
   * transaction begins (none can come while it is open).
   */
  get generation(): number {
    if (this.#group === undefined && this.#db) this.#seeOtherWriters();
    return this.#generation;
  }

  #seeOtherWriters(): void {
    const dataVersion = Number(this.sql("PRAGMA data_version").get()?.data_version);
    if (dataVersion !== this.#dataVersion) {
      this.#dataVersion = dataVersion;
      this.#generation++;
    }
  }

  /**
   * Resolves once every write made so far is committed (at once when none is
   * pending). A reader of what other processes may act on (the history) waits
   * for it: the connection sees its own uncommitted writes, which a crash
   * could still take back.
   */
  committed(): Promise<void> {
    return this.#group === undefined ? Promise.resolve() : this.#group.promise.catch(() => {});
  }

  #commit(): void {
    const group = this.#group;
    if (group === undefined || !this.#db) return;
    this.#group = undefined;
    try {
      this.#db.exec("COMMIT");
      group.resolve();
      this.#checkpointer?.committed();
    } catch (error) {
      this.#generation++;
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
}
