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
  readonly #pulls: Record<"runs" | "executions", Map<string, OutboxEntry[]>> = {
    runs: new Map(),
    executions: new Map(),
  };
  #propagated: string[] = [];
  #flushing: Promise<void> | undefined;

  constructor(db: MongoConnection) {
    this.#db = db;
  }

  /** The entries have been moved to the history: out of the document's outbox. */
  pull(kind: "runs" | "executions", id: string, entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) return;
    const pulls = this.#pulls[kind];
    const pending = pulls.get(id);
    if (pending) pending.push(...entries);
    else pulls.set(id, [...entries]);
    this.#schedule();
  }

  /** The finish of `key` has propagated. */
  propagated(key: string): void {
    this.#propagated.push(key);
    this.#schedule();
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
    while (this.#propagated.length > 0 || this.#pulls.runs.size > 0 || this.#pulls.executions.size > 0) {
      const propagated = this.#propagated.splice(0);
      const runs = pullsOf(this.#pulls.runs);
      const executions: AnyBulkWriteOperation<Tidied>[] = pullsOf(this.#pulls.executions);
      if (propagated.length > 0) {
        executions.push({
          updateMany: {
            filter: { _id: { $in: propagated }, propagated: false },
            update: { $unset: { propagated: "" } },
          },
        });
      }
      this.#pulls.runs.clear();
      this.#pulls.executions.clear();
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

function pullsOf(pulls: ReadonlyMap<string, OutboxEntry[]>): AnyBulkWriteOperation<Tidied>[] {
  return [...pulls].map(([id, entries]) => ({
    updateOne: { filter: { _id: id }, update: { $pullAll: { outbox: entries } } },
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
