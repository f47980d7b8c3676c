import type { NodeError } from "../../errors.ts";
import { ExecutionError } from "../../errors.ts";
import type { TokenUsage } from "../../providers/provider.ts";
import type {
  Cost,
  DeadLetter,
  DefinitionRecord,
  ExecutionRecord,
  ExecutionStatus,
  ParentLink,
  RunRecord,
  RunStatus,
  SignalState,
  WaitKind,
} from "../records.ts";

/**
 * The MongoDB store's documents ↔ the records of the Store port.
 *
 * Values the engine hands over as `unknown` (inputs, outputs, compiled plans,
 * cached values) and maps keyed by names the user chose (a run's pinned models)
 * are stored as JSON text, as the SQLite store stores them: a user's data may
 * hold keys MongoDB-wire servers refuse (`$ref`, `a.b`: FerretDB rejects both,
 * MongoDB rejects `$` keys inside an update), and JSON gives both adapters the
 * same round trip (undefined dropped, a Date as its string). Fixed shapes the
 * store updates or queries (status, counters, usage, cost, times) are fields.
 * Times are epoch milliseconds (numbers, never Dates), so records come back
 * exactly as they went in.
 */

export interface RunDocument {
  _id: string;
  workflow: { name: string; version: number };
  status: RunStatus;
  /** JSON. */
  input: string;
  /** JSON, or null before the run has an output. */
  output: string | null;
  error: NodeError | null;
  /** JSON: pinned references are user-chosen names, not safe as field names. */
  models: string;
  parent: ParentLink | null;
  failing: boolean;
  nodesTotal: number;
  nodesDone: number;
  usage: TokenUsage;
  /** By currency (ISO 4217 codes, as the model schema requires: safe as field names for $inc). */
  cost: Record<string, number>;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  deadline: number | null;
  /** Absent in documents written before rounds: 1. */
  round?: number;
  /** History events recorded with a transition, not yet numbered (see history.ts). */
  outbox?: OutboxEntry[];
  /** The tag of the last update that counted finished nodes towards it: see finish.ts. */
  countedBy?: string;
}

/**
 * A history event written into its transition's own update (so it exists
 * exactly when the transition does) and moved to the history collection, with
 * its sequence number, right after (history.ts). Its key in the history is
 * the document's id and the entry's `id`: the same entry is never numbered twice.
 */
export interface OutboxEntry {
  id: string;
  type: string;
  at: number;
  /** JSON: outputs and requests are user data (see jsonValue). */
  data: string;
}

/** One numbered event of a run's history. `_id` is its idempotent key (the outbox entry's). */
export interface HistoryDocument {
  _id: string;
  runId: string;
  seq: number;
  at: number;
  /** When a TTL index may delete it (servers that have them): `at` plus the retention. */
  expireAt: Date;
  type: string;
  round: number;
  nodeId: string | null;
  item: number | null;
  attempt: number | null;
  /** JSON. */
  data: string;
}

export interface ExecutionDocument {
  /** The execution key. */
  _id: string;
  runId: string;
  nodeId: string;
  item: number | null;
  status: ExecutionStatus;
  attempt: number;
  modelIndex: number;
  attemptsTotal: number;
  /** Absent in documents written before it existed: 0. */
  leasesLost?: number;
  leaseToken: string | null;
  leaseExpiresAt: number | null;
  /** Absent until an execution is first deferred for a rate limit. */
  rateSlotAt?: number | null;
  notBefore: number;
  itemsTotal: number;
  itemsDone: number;
  /** JSON (a map item's value), or null for a node of the plan. */
  input: string | null;
  depsDone: number;
  /** The dependencies already counted in depsDone, so that none is ever counted twice. */
  doneDeps?: string[];
  /** JSON, or null. */
  output: string | null;
  error: NodeError | null;
  cached: boolean;
  model: string | null;
  usage: TokenUsage | null;
  cost: Cost | null;
  childRunId: string | null;
  /** Absent until the first claim, so that `$min` sets it then and keeps it after. */
  startedAt?: number;
  finishedAt: number | null;
  updatedAt: number;
  /** Present (false) only while a finish is propagating: see finish.ts. */
  propagated?: false;
  /** The last batch update that changed this execution: see batches.ts. */
  movedBy?: string;
  /** The tag of the finish that ended it, when finished in a batch: see finish.ts. */
  finishedBy?: string;
  /** The tag of the last update that counted dependencies towards it: see finish.ts. */
  countedBy?: string;
  /** Absent in documents written before rounds: 1. */
  round?: number;
  /** History events recorded with a transition, not yet numbered (see history.ts). */
  outbox?: OutboxEntry[];
  /** Absent until a wait or approval node first waits (see waits.ts). */
  waitKind?: WaitKind | null;
  waitSignal?: string | null;
  signalId?: string | null;
}

export interface CacheDocument {
  _id: string;
  /** JSON. */
  value: string;
  /** Epoch ms, or null: never. Checked on every read. */
  expiresAt: number | null;
  /** The same instant as a Date, for a TTL index where the server has them (they only read Dates). */
  expireAt?: Date;
}

export interface DefinitionDocument {
  kind: DefinitionRecord["kind"];
  name: string;
  version: number;
  hash: string;
  source: string;
  /** JSON: compiled plans hold JSON Schemas, whose `$ref` and `$schema` keys a document cannot. */
  compiled: string;
  createdAt: number;
  actor: string | null;
  /** Absent in documents written before reasons were kept. */
  reason?: string | null;
}

export interface IdempotencyDocument {
  /** The idempotency key: unique as an _id. */
  _id: string;
  runId: string;
  createdAt: number;
}

/**
 * One model version's calls in one minute, added to by every process. `_id` is
 * `model|minute`; latency counts are keyed by bucket index (an `$inc` on
 * `latency.3` makes an object, not an array, where the field is missing).
 */
/** A rate-limited key's schedule (see rate-limits.ts). */
export interface RateLimitDocument {
  _id: string;
  nextSlotAt: number;
  tokensFreeAt: number;
}

export interface ModelCallsDocument {
  _id: string;
  model: string;
  minute: number;
  calls: number;
  errors: number;
  timeouts: number;
  latency: Record<string, number>;
}

export interface DeadLetterDocument {
  _id: string;
  executionKey: string;
  runId: string;
  nodeId: string;
  reason: string;
  deliveries: number;
  createdAt: number;
}

/** MongoDB's limit on one document, in bytes of BSON. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
/** Room a large value leaves for the rest of its document (ids, counters, times, an error). */
const HEADROOM_BYTES = 64 * 1024;

/**
 * A value as JSON text, refused with a clear, non-retryable error (naming what
 * it belongs to) when it cannot fit in a document: rather than a driver or
 * server error, and before anything is written. FerretDB does not even enforce
 * the limit, so a too-large document would be stored there and fail elsewhere.
 */
export function jsonValue(value: unknown, owner: () => string): string {
  const text = JSON.stringify(value === undefined ? null : value);
  const limit = MAX_DOCUMENT_BYTES - HEADROOM_BYTES;
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: most values need no counting.
  if (text.length * 3 > limit) {
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > limit) {
      throw ExecutionError.nonRetryable(
        "value-too-large",
        `${owner()} is ${(bytes / 1024 / 1024).toFixed(1)} MB as JSON: more than one MongoDB document ` +
          `holds (${MAX_DOCUMENT_BYTES / 1024 / 1024} MB with the rest of the record)`,
      );
    }
  }
  return text;
}

export function parse<T>(text: string | null | undefined): T {
  return (text === null || text === undefined ? null : JSON.parse(text)) as T;
}

export function toRun(doc: RunDocument): RunRecord {
  return toRunWithInput(doc, parse(doc.input));
}

/** A run from its document read without its input, and the input already parsed (see RunInputs). */
export function toRunWithInput(doc: RunDocument, input: unknown): RunRecord {
  return {
    id: doc._id,
    workflow: { name: doc.workflow.name, version: doc.workflow.version },
    status: doc.status,
    input,
    output: parse(doc.output),
    error: doc.error ?? null,
    models: parse<Record<string, string>>(doc.models),
    parent: doc.parent ?? null,
    failing: doc.failing === true,
    nodesTotal: doc.nodesTotal,
    nodesDone: doc.nodesDone,
    usage: {
      inputTokens: doc.usage.inputTokens,
      outputTokens: doc.usage.outputTokens,
      totalTokens: doc.usage.totalTokens,
    },
    cost: { ...doc.cost },
    createdAt: doc.createdAt,
    startedAt: doc.startedAt ?? null,
    finishedAt: doc.finishedAt ?? null,
    deadline: doc.deadline ?? null,
    round: doc.round ?? 1,
  };
}

export function toExecution(doc: ExecutionDocument): ExecutionRecord {
  return {
    key: doc._id,
    runId: doc.runId,
    nodeId: doc.nodeId,
    item: doc.item ?? null,
    status: doc.status,
    attempt: doc.attempt,
    modelIndex: doc.modelIndex,
    attemptsTotal: doc.attemptsTotal,
    leasesLost: doc.leasesLost ?? 0,
    leaseToken: doc.leaseToken ?? null,
    leaseExpiresAt: doc.leaseExpiresAt ?? null,
    rateSlotAt: doc.rateSlotAt ?? null,
    notBefore: doc.notBefore,
    itemsTotal: doc.itemsTotal,
    input: parse(doc.input),
    depsDone: doc.depsDone,
    output: parse(doc.output),
    error: doc.error ?? null,
    cached: doc.cached === true,
    model: doc.model ?? null,
    usage: doc.usage ?? null,
    cost: doc.cost ?? null,
    childRunId: doc.childRunId ?? null,
    startedAt: doc.startedAt ?? null,
    finishedAt: doc.finishedAt ?? null,
    updatedAt: doc.updatedAt,
    round: doc.round ?? 1,
    waitKind: doc.waitKind ?? null,
    waitSignal: doc.waitSignal ?? null,
    signalId: doc.signalId ?? null,
  };
}

/** What a pending execution holds before its first claim: new, or reset for a rerun. */
export const PENDING_STATE = Object.freeze({
  status: "pending",
  attempt: 0,
  modelIndex: 0,
  attemptsTotal: 0,
  leasesLost: 0,
  leaseToken: null,
  leaseExpiresAt: null,
  rateSlotAt: null,
  notBefore: 0,
  itemsTotal: 0,
  itemsDone: 0,
  output: null,
  error: null,
  cached: false,
  model: null,
  usage: null,
  cost: null,
  childRunId: null,
  finishedAt: null,
} as const);

/** A pending execution, as createRun and createItems insert it. */
export function newExecution(
  key: string,
  runId: string,
  nodeId: string,
  item: number | null,
  input: string | null,
  now: number,
  round = 1,
): ExecutionDocument {
  return {
    _id: key,
    runId,
    nodeId,
    item,
    ...PENDING_STATE,
    input,
    depsDone: 0,
    updatedAt: now,
    round,
  };
}

export function toDefinition(doc: DefinitionDocument): DefinitionRecord {
  return {
    kind: doc.kind,
    name: doc.name,
    version: doc.version,
    hash: doc.hash,
    source: doc.source,
    compiled: parse(doc.compiled),
    createdAt: doc.createdAt,
    actor: doc.actor ?? null,
    reason: doc.reason ?? null,
  };
}

export function toDeadLetter(doc: DeadLetterDocument): DeadLetter {
  return {
    id: doc._id,
    executionKey: doc.executionKey,
    runId: doc.runId,
    nodeId: doc.nodeId,
    reason: doc.reason,
    deliveries: doc.deliveries,
    createdAt: doc.createdAt,
  };
}

/** A signal (see waits.ts); a run's signals of one name are taken oldest first (createdAt, then _id). */
export interface SignalDocument {
  _id: string;
  runId: string;
  name: string;
  /** JSON. */
  data: string;
  state: SignalState;
  consumedBy: string | null;
  createdAt: number;
  updatedAt: number;
}
