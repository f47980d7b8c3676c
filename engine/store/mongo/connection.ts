import { type Collection, type Db, type Document, type FindOneAndUpdateOptions, MongoClient } from "mongodb";
import type {
  CacheDocument,
  DeadLetterDocument,
  DefinitionDocument,
  ExecutionDocument,
  HistoryDocument,
  IdempotencyDocument,
  ModelCallsDocument,
  RateLimitDocument,
  RunDocument,
  SignalDocument,
} from "./documents.ts";
import { ensureIndexes } from "./indexes.ts";
import { lockedWrites, type ServerTraits, serverTraits, WriteLock } from "./server-traits.ts";

/**
 * The MongoDB store's connection: its own MongoClient (the driver's pool), one
 * database and its collections, and what the server can do.
 *
 * Writes wait for a majority (a write a failover can roll back is not durable),
 * and the driver retries a write once across a failover (retryable writes: the
 * server recognises the retry, so it is not applied twice). Servers without a
 * replica set, FerretDB among them, accept both: there is nothing to wait for.
 */
export const WRITE_CONCERN = { w: "majority" } as const;

/**
 * The port lets queueing, claiming and renewing resolve once visible (a lost one
 * is delivered again, which recovery does anyway): those need not wait for a
 * majority.
 */
export const VISIBLE = { writeConcern: { w: 1 } } as const;

/**
 * How long an operation waits for a server it can write to: long enough to ride
 * out a replica set election (about 10 s at MongoDB's defaults), short enough
 * that an unreachable server is an error, not a hang.
 */
const SERVER_SELECTION_TIMEOUT_MS = 12_000;
const CONNECT_TIMEOUT_MS = 10_000;

export class MongoConnection {
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly runs: Collection<RunDocument>;
  readonly executions: Collection<ExecutionDocument>;
  readonly cache: Collection<CacheDocument>;
  readonly definitions: Collection<DefinitionDocument>;
  readonly idempotencyKeys: Collection<IdempotencyDocument>;
  readonly deadLetters: Collection<DeadLetterDocument>;
  readonly modelCalls: Collection<ModelCallsDocument>;
  readonly rateLimits: Collection<RateLimitDocument>;
  readonly history: Collection<HistoryDocument>;
  readonly signals: Collection<SignalDocument>;
  readonly #lock: WriteLock;
  /** A collection of its own (a part of the Store kept in a file of its own), with the same write lock. */
  readonly collection: <T extends Document>(name: string) => Collection<T>;
  /** MongoDB's, until start() learns the server's (server-traits.ts). */
  #traits: ServerTraits = { atomicUpdates: true, projectsFindAndModify: true };

  constructor(url: string, database: string) {
    this.#client = new MongoClient(url, {
      appName: "pflow",
      writeConcern: WRITE_CONCERN,
      retryWrites: true,
      retryReads: true,
      serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
      // A connection (the monitor's too) that a server stopping mid-handshake
      // leaves hanging is given up after 10 s, not the driver's 30: the client
      // finds a restarted server again well within a readiness probe's patience.
      connectTimeoutMS: CONNECT_TIMEOUT_MS,
      // As JSON does (and so the SQLite store): an undefined field is left out, not stored as null.
      ignoreUndefined: true,
    });
    this.#db = this.#client.db(database);
    const db = this.#db;
    const locking = () => !this.#traits.atomicUpdates;
    const lock = new WriteLock(db.collection("write_lock"));
    this.#lock = lock;
    function collection<T extends Document>(name: string): Collection<T> {
      return lockedWrites(db.collection<T>(name), lock, locking);
    }
    this.collection = collection;
    this.runs = collection("runs");
    this.executions = collection("executions");
    this.cache = collection("cache");
    this.definitions = collection("definitions");
    this.idempotencyKeys = collection("idempotency_keys");
    this.deadLetters = collection("dead_letters");
    this.modelCalls = collection("model_calls");
    this.rateLimits = collection("rate_limits");
    this.history = collection("history");
    this.signals = collection("signals");
  }

  /** Connects, creates the indexes, and learns what the server can do. Idempotent. */
  async open(): Promise<void> {
    await this.#client.connect();
    this.#traits = await serverTraits(this.#db);
    await ensureIndexes(this.#db);
  }

  async close(): Promise<void> {
    await this.#lock.idle();
    await this.#client.close();
  }

  async ping(): Promise<void> {
    await this.#db.command({ ping: 1 });
  }

  /**
   * The options of a findOneAndUpdate that needs only some fields back: with a
   * projection where the server has them, so a large input or output does not
   * travel for nothing; else the whole document.
   */
  returning(returnDocument: "before" | "after", projection: Document): FindOneAndUpdateOptions {
    return this.#traits.projectsFindAndModify ? { returnDocument, projection } : { returnDocument };
  }
}

/** The database a URL names in its path (`mongodb://host/name`), or null. */
export function databaseOf(url: string): string | null {
  const path = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]*)/.exec(url)?.[1];
  return path ? decodeURIComponent(path) : null;
}
