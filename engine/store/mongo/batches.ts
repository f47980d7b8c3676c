import { randomUUID } from "node:crypto";
import type { Collection, Filter, MatchKeysAndValues, UpdateOptions } from "mongodb";
import type { ExecutionDocument, OutboxEntry } from "./documents.ts";

/**
 * One conditional update of many executions in one round trip, reporting which
 * it changed. updateMany tells how many documents it changed, not which, and
 * the caller must know exactly (a key it queued is one it publishes; another
 * caller's is not). So the update tags what it changes with a tag of its own
 * (`movedBy`), and only when it changed some but not all of the keys does a
 * second round trip read the tagged ones back. Each document matches the
 * condition for one caller only, so the keys two concurrent calls return never
 * overlap. Returns the changed keys in the order given.
 */
export async function updateKeys(
  executions: Collection<ExecutionDocument>,
  keys: readonly string[],
  condition: Filter<ExecutionDocument>,
  set: MatchKeysAndValues<ExecutionDocument>,
  options: UpdateOptions = {},
  inc: Readonly<Record<string, number>> = {},
  outbox: readonly OutboxEntry[] = [],
): Promise<string[]> {
  if (keys.length === 0) return [];
  const tag = randomUUID();
  const result = await executions.updateMany(
    { ...condition, _id: { $in: [...keys] } },
    {
      $set: { ...set, movedBy: tag },
      ...(Object.keys(inc).length > 0 ? { $inc: inc } : {}),
      // The history events of the change, recorded with it (history.ts).
      ...(outbox.length > 0 ? { $push: { outbox: { $each: [...outbox] } } } : {}),
    },
    options,
  );
  if (result.modifiedCount === keys.length) return [...keys];
  if (result.modifiedCount === 0) return [];
  const changed = await executions
    .find({ _id: { $in: [...keys] }, movedBy: tag }, { projection: { _id: 1 } })
    .toArray();
  const ids = new Set(changed.map((doc) => doc._id));
  return keys.filter((key) => ids.has(key));
}

/** The keys of the executions a query finds, in its order: the candidates of an updateKeys. */
export async function keysOf(
  executions: Collection<ExecutionDocument>,
  filter: Filter<ExecutionDocument>,
  options: { limit?: number; sort?: Record<string, 1 | -1> } = {},
): Promise<string[]> {
  if (options.limit !== undefined && options.limit <= 0) return [];
  const docs = await executions.find(filter, { ...options, projection: { _id: 1 } }).toArray();
  return docs.map((doc) => doc._id);
}
