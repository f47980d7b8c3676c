import { expect } from "vitest";
import type { HistoryEvent } from "../../engine/history/events.ts";
import type { Store } from "../../engine/store/store.ts";

/** A run's whole history, paged. */
export async function wholeHistory(store: Store, runId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for (;;) {
    const page = await store.listHistory(runId, { after: events.at(-1)?.seq ?? 0, limit: 500 });
    events.push(...page);
    if (page.length < 500) return events;
  }
}

/**
 * What every fault test checks of a finished run's history: numbered 1…N
 * with no gap or double; each execution (node, item) ended exactly once in
 * the round, started as many attempts as it ended (a lost lease ends one);
 * the run created once and ended once, by its last run event.
 */
export async function expectWholeHistory(
  store: Store,
  runId: string,
  ending: string,
  options: { round?: number } = {},
): Promise<HistoryEvent[]> {
  const round = options.round ?? 1;
  const events = await wholeHistory(store, runId);
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
  expect(events.filter((event) => event.type === "run.created")).toHaveLength(1);
  const runEvents = events.filter((event) => event.type.startsWith("run.") && event.round === round);
  expect(runEvents.at(-1)?.type).toBe(ending);
  expect(runEvents.filter((event) => event.type === ending)).toHaveLength(1);
  const byExecution = new Map<string, HistoryEvent[]>();
  for (const event of events) {
    if (event.nodeId === null || event.round !== round) continue;
    const key = `${event.nodeId}#${event.item}`;
    byExecution.set(key, [...(byExecution.get(key) ?? []), event]);
  }
  for (const [key, own] of byExecution) {
    const types = own.map((event) => event.type);
    const ends = types.filter((type) =>
      ["node.succeeded", "node.failed", "node.skipped", "node.cancelled"].includes(type),
    );
    expect(ends, `the ends of ${key}: ${types.join(", ")}`).toHaveLength(1);
    const started = types.filter((type) => type === "attempt.started").length;
    const over = types.filter((type) =>
      ["attempt.succeeded", "attempt.failed", "attempt.rate_limited"].includes(type),
    ).length;
    // A node skipped or cancelled while running ends its attempt with its own end.
    expect(started - over, `the attempts of ${key}: ${types.join(", ")}`).toBeGreaterThanOrEqual(0);
    expect(started - over, `the attempts of ${key}: ${types.join(", ")}`).toBeLessThanOrEqual(1);
  }
  return events;
}
