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
 * - A projection on findAndModify ("not implemented"): the whole document
 *   comes back instead.
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

const WRITES: ReadonlySet<PropertyKey> = new Set([
  "insertOne",
  "insertMany",
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
 * taken over. Writes of one process also queue here first, so a process asks
 * for the lock once at a time.
 */
export class WriteLock {
  readonly #locks: Collection<LockDocument>;
  readonly #owner = randomUUID();
  #last: Promise<unknown> = Promise.resolve();

  constructor(locks: Collection<LockDocument>) {
    this.#locks = locks;
  }

  run<T>(write: () => Promise<T>): Promise<T> {
    const next = this.#last.then(async () => {
      await this.#acquire();
      try {
        return await write();
      } finally {
        await this.#locks.deleteOne({ _id: LOCK_ID, owner: this.#owner }).catch(() => undefined);
      }
    });
    this.#last = next.catch(() => undefined);
    return next;
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
      await sleep(Math.min(20, 1 + attempt) * Math.random());
    }
  }
}

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
