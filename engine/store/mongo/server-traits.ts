import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Collection, Db, Document } from "mongodb";
import { isDuplicateKey } from "./server-errors.ts";

/**
 * What the server does differently from MongoDB, learned once at start.
 *
 * FerretDB 1.x (the MongoDB-wire server the integration suite runs against)
 * lacks two things this store would otherwise use:
 * - Atomic updates. It applies an update as a read, then a write of the whole
 *   document, with nothing in between held (FerretDB issue #3040): two
 *   concurrent conditional updates of one document can both match, and two
 *   increments can make one. Every transition of this store relies on a
 *   conditional update being atomic, so against FerretDB 1.x every write of
 *   every process goes through one server-wide lock (see WriteLock): only one
 *   write is inside FerretDB at a time. Correct, and slow (three round trips
 *   a write, and no parallelism): fine for tests, not for production, which
 *   needs MongoDB (or FerretDB 2, whose updates are atomic).
 * - A projection on findAndModify (refused with code 238, NotImplemented):
 *   the whole document comes back instead.
 */
export interface ServerTraits {
  readonly atomicUpdates: boolean;
  readonly projectsFindAndModify: boolean;
}

export async function serverTraits(db: Db): Promise<ServerTraits> {
  const info = await db.command({ buildInfo: 1 });
  const ferretdb1 = typeof info.ferretdbVersion === "string" && /^v?1\./.test(info.ferretdbVersion);
  return { atomicUpdates: !ferretdb1, projectsFindAndModify: !ferretdb1 };
}

/**
 * The writes that read a document and write it back, so need the lock. Inserts
 * do not: the backend's unique index on `_id` settles two inserts of one key
 * atomically, and an insert never rewrites a document that exists.
 */
const WRITES: ReadonlySet<PropertyKey> = new Set([
  "updateOne",
  "updateMany",
  "replaceOne",
  "deleteOne",
  "deleteMany",
  "findOneAndUpdate",
  "findOneAndReplace",
  "findOneAndDelete",
  "bulkWrite",
]);

/**
 * A lock over every write to one database, shared by all processes, for servers
 * without atomic updates. Inserting a document with a fixed `_id` is atomic even
 * there (the backend's unique index decides), so that is the lock; deleting it
 * releases it. A holder that dies leaves it until `until`, after which it is
 * taken over. A process queues its writes and, once it holds the lock, sends
 * what has queued one after another (up to a batch, so others get a turn):
 * one acquisition for many writes.
 */
export class WriteLock {
  readonly #locks: Collection<LockDocument>;
  readonly #owner = randomUUID();
  readonly #queue: Array<() => Promise<void>> = [];
  #draining: Promise<void> | null = null;

  constructor(locks: Collection<LockDocument>) {
    this.#locks = locks;
  }

  run<T>(write: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(() => write().then(resolve, reject));
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#draining) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
      // Writes queued while the last drain was finishing.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  /** Resolves once no write is queued and the lock is released (before the client closes). */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        try {
          await this.#acquire();
        } catch (error) {
          // The server is unreachable: every queued write fails with it.
          for (const write of this.#queue.splice(0)) void write().catch(() => {});
          throw error;
        }
        try {
          for (let sent = 0; sent < BATCH && this.#queue.length > 0; sent++)
            await (this.#queue.shift() as () => Promise<void>)();
        } finally {
          await this.#locks.deleteOne({ _id: LOCK_ID, owner: this.#owner }).catch(() => undefined);
        }
        // Others may be waiting for it: give them a turn before taking it again.
        if (this.#queue.length > 0) await sleep(YIELD_MS);
      }
    } catch {
      // Reported to each write's caller by its own promise.
    }
  }

  async #acquire(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#locks.insertOne({ _id: LOCK_ID, owner: this.#owner, until: Date.now() + LOCK_LEASE_MS });
        return;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      const held = await this.#locks.findOne({ _id: LOCK_ID });
      if (held && held.until < Date.now()) {
        // Its holder died holding it.
        await this.#locks.deleteOne({ _id: LOCK_ID, owner: held.owner, until: held.until });
        continue;
      }
      await sleep(Math.min(5, 1 + attempt / 4) * Math.random());
    }
  }
}

/** Writes sent per acquisition, at most: the other processes' turn comes after. */
const BATCH = 64;
/** How long a process that has just released the lock waits before asking again. */
const YIELD_MS = 5;

interface LockDocument {
  _id: string;
  owner: string;
  until: number;
}

const LOCK_ID = "writes";
/** Longer than any one write takes; a dead holder's lock is taken over after it. */
const LOCK_LEASE_MS = 10_000;

/**
 * The collection, whose writes go through `lock` while `locking()` says so
 * (reads are not held). A wrapper rather than a lock at each call site, so the
 * store reads as plain MongoDB and the workaround lives, and goes, here.
 */
export function lockedWrites<T extends Document>(
  collection: Collection<T>,
  lock: WriteLock,
  locking: () => boolean,
): Collection<T> {
  return new Proxy(collection, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (!WRITES.has(property)) return value.bind(target);
      return (...args: unknown[]) =>
        locking() ? lock.run(() => value.apply(target, args)) : value.apply(target, args);
    },
  });
}
