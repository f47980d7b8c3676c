import type { UpdateFilter } from "mongodb";
import { claimNotes } from "../../history/notes.ts";
import type { ExecutionRecord } from "../records.ts";
import { type MongoConnection, VISIBLE } from "./connection.ts";
import { type ExecutionDocument, type OutboxEntry, toExecution } from "./documents.ts";
import { DOCUMENT_SUBJECT, type MongoHistory } from "./history.ts";
import { TurnBatch } from "./turn-batch.ts";

interface ClaimRequest {
  readonly key: string;
  readonly lease: { readonly token: string; readonly until: number };
  readonly now: number;
}

/**
 * Claims: queued → running with a lease, each conditional on the execution
 * being queued and due, so a duplicate or stale delivery claims nothing. The
 * claims of one turn of the event loop (the deliveries of one socket read, a
 * worker's slots freed by one batch of finishes) go together (TurnBatch): one
 * claim alone is one findOneAndUpdate, as before; several are one bulkWrite of
 * the same conditional updates and one read of the executions, and a caller
 * won if the execution holds its lease token (each caller has its own, so of
 * two claims of one execution exactly one finds its token there).
 */
export class Claims {
  readonly #db: MongoConnection;
  readonly #history: MongoHistory;
  readonly #batch = new TurnBatch<ClaimRequest, ExecutionRecord | null>((requests) => this.#claim(requests));

  constructor(db: MongoConnection, history: MongoHistory) {
    this.#db = db;
    this.#history = history;
  }

  claim(key: string, lease: { token: string; until: number }, now: number): Promise<ExecutionRecord | null> {
    return this.#batch.add({ key, lease, now });
  }

  async #claim(requests: readonly ClaimRequest[]): Promise<Array<ExecutionRecord | null>> {
    const entries = requests.map((request) =>
      this.#history.entries(claimNotes(DOCUMENT_SUBJECT, request.now), request.key),
    );
    let won: Array<ExecutionDocument | null>;
    if (requests.length === 1) {
      const request = requests[0] as ClaimRequest;
      won = [
        await this.#db.executions.findOneAndUpdate(
          filter(request),
          update(request, entries[0] as OutboxEntry[]),
          {
            returnDocument: "after",
            ...VISIBLE,
          },
        ),
      ];
    } else {
      await this.#db.executions.bulkWrite(
        requests.map((request, index) => ({
          updateOne: { filter: filter(request), update: update(request, entries[index] as OutboxEntry[]) },
        })),
        { ordered: false, ...VISIBLE },
      );
      const docs = await this.#db.executions
        .find(
          { _id: { $in: [...new Set(requests.map((request) => request.key))] } },
          { projection: { outbox: 0 } },
        )
        .toArray();
      const byKey = new Map(docs.map((doc) => [doc._id, doc]));
      won = requests.map((request) => {
        const doc = byKey.get(request.key);
        return doc?.status === "running" && doc.leaseToken === request.lease.token ? doc : null;
      });
    }
    // Each claim's own entries, moved without reading the executions again.
    await this.#history.move(
      "executions",
      won.flatMap((doc, index) => (doc ? [{ ...doc, outbox: entries[index] as OutboxEntry[] }] : [])),
    );
    return won.map((doc) => (doc ? toExecution({ ...doc, outbox: [] }) : null));
  }
}

function filter(request: ClaimRequest) {
  return { _id: request.key, status: "queued" as const, notBefore: { $lte: request.now } };
}

function update(request: ClaimRequest, entries: OutboxEntry[]): UpdateFilter<ExecutionDocument> {
  return {
    $set: {
      status: "running",
      leaseToken: request.lease.token,
      leaseExpiresAt: request.lease.until,
      updatedAt: request.now,
    },
    $inc: { attempt: 1, attemptsTotal: 1 },
    // Set by the first claim only: the field is absent until then.
    $min: { startedAt: request.now },
    $push: { outbox: { $each: entries } },
  };
}
