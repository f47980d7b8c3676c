import type { Collection } from "mongodb";
import type { RateSlot } from "../records.ts";
import { VISIBLE } from "./connection.ts";
import type { RateLimitDocument } from "./documents.ts";
import { isDuplicateKey } from "./server-errors.ts";

/**
 * A rate limit as a schedule (GCRA): one document per key holds when its next
 * call slot starts and when its token budget is spent. Taking a slot is one
 * atomic `$inc` while the schedule runs ahead of the clock (a busy limit, where
 * round trips matter); once it has fallen behind, a conditional `$set` moves it
 * to now, which only one of several racing callers wins (the others take the
 * slots after it). No read-modify-write, so it holds on every MongoDB-wire
 * server, and no update pipeline, which FerretDB lacks.
 */
export async function takeRateSlot(
  limits: Collection<RateLimitDocument>,
  key: string,
  intervalMs: number,
  now: number,
): Promise<RateSlot> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const ahead = await limits.findOneAndUpdate(
      { _id: key, nextSlotAt: { $gte: now } },
      { $inc: { nextSlotAt: intervalMs } },
      { returnDocument: "after", ...VISIBLE },
    );
    if (ahead) return { startAt: ahead.nextSlotAt - intervalMs, tokensFreeAt: ahead.tokensFreeAt };
    const caughtUp = await catchUp(limits, key, { nextSlotAt: now + intervalMs }, { tokensFreeAt: 0 }, now);
    if (caughtUp) return { startAt: now, tokensFreeAt: caughtUp.tokensFreeAt };
  }
  throw new Error(`the rate limit of "${key}" is contended beyond ${MAX_TRIES} tries`);
}

/** The token budget, as a schedule too: `costMs` after its end, or after now once that is past. */
export async function chargeRateTokens(
  limits: Collection<RateLimitDocument>,
  key: string,
  costMs: number,
  now: number,
): Promise<void> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const owed = await limits.updateOne(
      { _id: key, tokensFreeAt: { $gte: now } },
      { $inc: { tokensFreeAt: costMs } },
      VISIBLE,
    );
    if (owed.matchedCount === 1) return;
    if (await catchUp(limits, key, { tokensFreeAt: now + costMs }, { nextSlotAt: 0 }, now)) return;
  }
  throw new Error(`the token budget of "${key}" is contended beyond ${MAX_TRIES} tries`);
}

/**
 * Sets `fields` if their schedule has fallen behind `now` (or the key is new):
 * the document, or null when another caller moved the schedule first.
 */
async function catchUp(
  limits: Collection<RateLimitDocument>,
  key: string,
  fields: Partial<Omit<RateLimitDocument, "_id">>,
  onInsert: Partial<Omit<RateLimitDocument, "_id">>,
  now: number,
): Promise<RateLimitDocument | null> {
  const [field] = Object.keys(fields) as (keyof typeof fields)[];
  try {
    return await limits.findOneAndUpdate(
      { _id: key, [field as string]: { $lt: now } },
      { $set: fields, $setOnInsert: onInsert },
      { upsert: true, returnDocument: "after", ...VISIBLE },
    );
  } catch (error) {
    // The key exists and its schedule is ahead: someone else caught it up.
    if (isDuplicateKey(error)) return null;
    throw error;
  }
}

/** Each try fails only because another caller succeeded: a few suffice. */
const MAX_TRIES = 16;
