import type { Collection } from "mongodb";
import type { TickClaim, TriggerDeadLetter, TriggerKind, TriggerState, TriggerStore } from "../triggers.ts";
import type { MongoConnection } from "./connection.ts";
import { isDuplicateKey } from "./server-errors.ts";

interface TriggerDocument extends Omit<TriggerState, "id"> {
  _id: string;
}
interface TickDocument extends Omit<TickClaim, "trigger" | "tick"> {
  /** `trigger@tick`: the unique key that makes a claim exclusive. */
  _id: string;
  trigger: string;
  tick: number;
}
interface TriggerDeadLetterDocument extends Omit<TriggerDeadLetter, "id"> {
  _id: string;
}

/**
 * The trigger collections. A claim is an insert on `_id` = trigger@tick, unique
 * on every MongoDB-wire server: of any number of processes, one insert wins.
 * Counters use $inc through the connection's write lock where the server has no
 * atomic updates (FerretDB), as the other collections do.
 */
export class MongoTriggers implements TriggerStore {
  readonly #triggers: Collection<TriggerDocument>;
  readonly #ticks: Collection<TickDocument>;
  readonly #deadLetters: Collection<TriggerDeadLetterDocument>;
  readonly #definitions: MongoConnection["definitions"];
  #indexed: Promise<void> | undefined;

  constructor(db: MongoConnection) {
    this.#triggers = db.collection<TriggerDocument>("triggers");
    this.#ticks = db.collection<TickDocument>("trigger_ticks");
    this.#deadLetters = db.collection<TriggerDeadLetterDocument>("trigger_dead_letters");
    this.#definitions = db.definitions;
  }

  /** The indexes, once per process, before the first query that needs them. */
  #indexes(): Promise<void> {
    this.#indexed ??= (async () => {
      await this.#ticks.createIndex({ trigger: 1, tick: -1 });
      await this.#deadLetters.createIndex({ createdAt: -1 });
    })().catch((error) => {
      this.#indexed = undefined;
      throw error;
    });
    return this.#indexed;
  }

  async latestWorkflowVersions(): Promise<{ name: string; version: number }[]> {
    // Names and numbers only (never the documents), reduced here rather than by
    // $group, which not every MongoDB-wire server has.
    const latest = new Map<string, number>();
    const versions = this.#definitions.find(
      { kind: "Workflow" },
      { projection: { _id: 0, name: 1, version: 1 } },
    );
    for await (const { name, version } of versions) {
      if ((latest.get(name) ?? 0) < version) latest.set(name, version);
    }
    return [...latest].map(([name, version]) => ({ name, version }));
  }

  async ensureTrigger(id: string, workflow: string, kind: TriggerKind, now: number): Promise<TriggerState> {
    try {
      await this.#triggers.insertOne({
        _id: id,
        workflow,
        kind,
        paused: false,
        since: now,
        lastFireAt: null,
        lastRunId: null,
        lastError: null,
        lastErrorAt: null,
        fired: 0,
        failed: 0,
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    return (await this.getTrigger(id)) as TriggerState;
  }

  async getTrigger(id: string): Promise<TriggerState | null> {
    const doc = await this.#triggers.findOne({ _id: id });
    return doc ? toState(doc) : null;
  }

  async listTriggers(): Promise<TriggerState[]> {
    return (await this.#triggers.find({}).sort({ _id: 1 }).toArray()).map(toState);
  }

  async setTriggerPaused(id: string, paused: boolean, now: number): Promise<TriggerState | null> {
    // Resuming a paused trigger moves `since`; pausing, or resuming one that runs, does not.
    if (!paused) await this.#triggers.updateOne({ _id: id, paused: true }, { $set: { since: now } });
    await this.#triggers.updateOne({ _id: id }, { $set: { paused } });
    return this.getTrigger(id);
  }

  async recordTriggerFired(id: string, runId: string, at: number): Promise<void> {
    await this.#triggers.updateOne({ _id: id }, { $inc: { fired: 1 }, $set: { lastRunId: runId } });
    await this.#triggers.updateOne(
      { _id: id, $or: [{ lastFireAt: null }, { lastFireAt: { $lt: at } }] },
      { $set: { lastFireAt: at } },
    );
  }

  async recordTriggerFailed(id: string, error: string, at: number): Promise<void> {
    await this.#triggers.updateOne(
      { _id: id },
      { $inc: { failed: 1 }, $set: { lastError: error, lastErrorAt: at } },
    );
  }

  async claimTick(claim: TickClaim): Promise<boolean> {
    try {
      await this.#ticks.insertOne({ _id: `${claim.trigger}@${claim.tick}`, ...claim });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async latestTick(trigger: string): Promise<TickClaim | null> {
    await this.#indexes();
    const doc = await this.#ticks.find({ trigger }).sort({ tick: -1 }).limit(1).next();
    if (!doc) return null;
    return {
      trigger: doc.trigger,
      tick: doc.tick,
      outcome: doc.outcome,
      runId: doc.runId,
      claimedAt: doc.claimedAt,
    };
  }

  async addTriggerDeadLetter(letter: TriggerDeadLetter): Promise<void> {
    const { id, ...rest } = letter;
    try {
      await this.#deadLetters.insertOne({ _id: id, ...rest });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  async listTriggerDeadLetters(limit: number): Promise<TriggerDeadLetter[]> {
    await this.#indexes();
    const docs = await this.#deadLetters.find({}).sort({ createdAt: -1, _id: 1 }).limit(limit).toArray();
    return docs.map(({ _id, ...rest }) => ({ id: _id, ...rest }));
  }
}

function toState(doc: TriggerDocument): TriggerState {
  const { _id, ...rest } = doc;
  return {
    id: _id,
    workflow: rest.workflow,
    kind: rest.kind,
    paused: rest.paused,
    since: rest.since,
    lastFireAt: rest.lastFireAt ?? null,
    lastRunId: rest.lastRunId ?? null,
    lastError: rest.lastError ?? null,
    lastErrorAt: rest.lastErrorAt ?? null,
    fired: rest.fired,
    failed: rest.failed,
  };
}
