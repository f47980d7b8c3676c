import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
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

export class SqliteConnection {
  readonly #path: string;
  #db: DatabaseSync | undefined;
  readonly #statements = new Map<string, StatementSync>();
  #group: PromiseWithResolvers<void> | undefined;

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
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    this.#db = db;
    this.#migrate();
  }

  close(): void {
    this.#commit();
    this.#statements.clear();
    this.#db?.close();
    if (this.#db && this.#path !== ":memory:") openFiles.delete(resolve(this.#path));
    this.#db = undefined;
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
}
