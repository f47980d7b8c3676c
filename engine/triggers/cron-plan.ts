import type { Cron } from "croner";
import type { CronTrigger } from "../../compiler/index.ts";

/**
 * What a cron trigger does when it is due: which ticks to fire, pure of any
 * clock or store so that catch-up is tested with plain numbers.
 *
 * The ticks considered are those after `after` (the latest tick claimed, or
 * when the trigger was first seen or last resumed) up to `now`. The latest is
 * on time if it is at most `graceMs` old; the others were missed while no
 * process ran. catchUp decides:
 * - none: only a tick on time fires;
 * - one (default): the latest tick fires, on time or not: one run for the gap;
 * - all: every tick of the gap fires, oldest first, at most the latest 100.
 * Ticks not fired are passed over (`passOver`: the latest of them, claimed as
 * missed so that no process considers them again).
 */
export const MAX_CATCH_UP = 100;

export interface CronDecision {
  /** Ticks to fire, oldest first. */
  readonly fire: readonly number[];
  /** The latest tick not fired (to claim as missed), or null. */
  readonly passOver: number | null;
}

export function dueTicks(schedule: Cron, after: number, now: number, limit = MAX_CATCH_UP + 1): number[] {
  // croner lists ticks before a reference (in whole seconds), latest first: bounded,
  // however long the gap. A second past now, so that a tick at now is among them.
  return schedule
    .previousRuns(limit, new Date(now + 1000))
    .map((date) => date.getTime())
    .filter((tick) => tick > after && tick <= now)
    .reverse();
}

export function decideCron(
  catchUp: CronTrigger["catchUp"],
  due: readonly number[],
  now: number,
  graceMs: number,
): CronDecision {
  const latest = due.at(-1);
  if (latest === undefined) return { fire: [], passOver: null };
  const onTime = now - latest <= graceMs;
  switch (catchUp) {
    case "none":
      return onTime ? { fire: [latest], passOver: null } : { fire: [], passOver: latest };
    case "one":
      return { fire: [latest], passOver: null };
    case "all":
      return { fire: due.slice(-MAX_CATCH_UP), passOver: null };
  }
}
