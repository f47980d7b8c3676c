import type { AnyBulkWriteOperation, Collection } from "mongodb";
import type { MongoConnection } from "./connection.ts";
import type { OutboxEntry } from "./documents.ts";

/**
 * Writes that only tidy up, so need not hold up the transition they follow,
 * gathered for LAZY_WINDOW_MS and sent as one bulkWrite per collection:
 * - emptying an outbox of the entries just moved to the history (step 3 of
 *   history.ts): an entry left there is one the history already has, which a
 *   repair would skip;
 * - clearing an execution's `propagated: false` once its dependents and its
 *   run have counted it (step 4 of finish.ts): the flag only tells recovery
 *   where to look.
 * A lazy write that is lost (a crash, a failed write) leaves an entry that is
 * moved again idempotently, or a flag that makes recovery reconcile a run that
 * needed nothing: harmless either way, as both are idempotent.
 */
/** How long lazy writes are gathered before they are sent: many turns' worth, as one command. */
const LAZY_WINDOW_MS = 50;

export class LazyWrites {
  readonly #db: MongoConnection;
  /** By collection and document: the entries to pull, and whether to clear its flag. One update each. */
  readonly #writes: Record<"runs" | "executions", Map<string, Tidying>> = {
    runs: new Map(),
    executions: new Map(),
  };
  #flushing: Promise<void> | undefined;

  constructor(db: MongoConnection) {
    this.#db = db;
  }

  /** The entries have been moved to the history: out of the document's outbox. */
  pull(kind: "runs" | "executions", id: string, entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) return;
    this.#tidying(kind, id).entries.push(...entries);
  }

  /** Of a document's outbox entries, those not waiting here to be pulled (so not moved by this process). */
  unpulled(kind: "runs" | "executions", id: string, entries: readonly OutboxEntry[]): OutboxEntry[] {
    const pending = this.#writes[kind].get(id)?.entries;
    if (!pending || pending.length === 0) return [...entries];
    const moved = new Set(pending.map((entry) => entry.id));
    return entries.filter((entry) => !moved.has(entry.id));
  }

  /** The finish of `key` has propagated. */
  propagated(key: string): void {
    this.#tidying("executions", key).propagated = true;
  }

  #tidying(kind: "runs" | "executions", id: string): Tidying {
    const writes = this.#writes[kind];
    let tidying = writes.get(id);
    if (!tidying) {
      tidying = { entries: [], propagated: false };
      writes.set(id, tidying);
    }
    this.#schedule();
    return tidying;
  }

  /** Resolves once every lazy write asked for so far has been sent. */
  async settle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  #schedule(): void {
    this.#flushing ??= this.#flush();
  }

  async #flush(): Promise<void> {
    await new Promise<void>((resolve) => setTimeout(resolve, LAZY_WINDOW_MS));
    while (this.#writes.runs.size > 0 || this.#writes.executions.size > 0) {
      const runs = updatesOf(this.#writes.runs);
      const executions = updatesOf(this.#writes.executions);
      this.#writes.runs.clear();
      this.#writes.executions.clear();
      await Promise.all([
        send(this.#db.runs as unknown as Collection<Tidied>, runs),
        send(this.#db.executions as unknown as Collection<Tidied>, executions),
      ]);
    }
    this.#flushing = undefined;
  }
}

/** What a lazy write touches: a run or an execution, by its string id. */
interface Tidied {
  _id: string;
  outbox?: OutboxEntry[];
  propagated?: false;
}

interface Tidying {
  readonly entries: OutboxEntry[];
  propagated: boolean;
}

/**
 * One update per document. A flag is cleared whatever finish set it: as
 * before batching, a finish of the same execution within the window (a rerun
 * finishing at once) would have its flag cleared early, which only means
 * recovery does not look at it.
 */
function updatesOf(writes: ReadonlyMap<string, Tidying>): AnyBulkWriteOperation<Tidied>[] {
  return [...writes].map(([id, { entries, propagated }]) => ({
    updateOne: {
      filter: { _id: id },
      update: {
        ...(entries.length > 0 ? { $pullAll: { outbox: entries } } : {}),
        ...(propagated ? { $unset: { propagated: "" } } : {}),
      },
    },
  }));
}

async function send(collection: Collection<Tidied>, operations: AnyBulkWriteOperation<Tidied>[]) {
  if (operations.length === 0) return;
  try {
    await collection.bulkWrite(operations, { ordered: false });
  } catch {
    // Left as they were: harmless, and tidied later (see above).
  }
}
