import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { NodeError } from "../../../engine/errors.ts";
import {
  type ExecutionRecord,
  executionKey,
  type NewRun,
  type RunRecord,
} from "../../../engine/store/records.ts";
import type { FinishResult, Store } from "../../../engine/store/store.ts";

/**
 * Shared fixtures of the Store contract. Times are fixed epoch milliseconds (the
 * port takes the clock from the caller), and every run gets a randomUUID() id.
 */

/** The contract's "now": every seeded transition happens at T0. */
export const T0 = 1_700_000_000_000;
/** A lease far beyond any `now` a test uses: such an execution is held, never expired. */
export const HELD_UNTIL = T0 + 3_600_000;

/** What each part of the contract gets: the store of the current test (fresh, started). */
export interface StoreContext {
  readonly store: Store;
}

export const NO_PROPAGATION = { dependents: [], dependencyCounts: {} } as const;

export const BOOM: NodeError = { code: "boom", message: "the node failed" };

/** Creates a run whose nodesTotal is the number of nodes (unless overridden). */
export async function createRun(
  store: Store,
  nodes: readonly string[],
  overrides: Partial<NewRun> = {},
): Promise<RunRecord> {
  const run: NewRun = {
    id: randomUUID(),
    workflow: { name: "contract", version: 1 },
    input: { text: "hello" },
    models: {},
    parent: null,
    nodesTotal: nodes.length,
    deadline: null,
    createdAt: T0,
    ...overrides,
  };
  return store.createRun(run, nodes);
}

/** Queues (if pending) and claims an execution; returns the lease token. */
export async function claim(store: Store, key: string, now = T0, until = HELD_UNTIL): Promise<string> {
  await store.queueExecutions([key], now);
  const token = randomUUID();
  const claimed = await store.claimExecution(key, { token, until }, now);
  expect(claimed, `claim of ${key}`).not.toBeNull();
  return token;
}

/** Finishes a running execution held by `token` as succeeded; the transition must happen. */
export async function succeed(
  store: Store,
  key: string,
  token: string | undefined,
  propagation: {
    dependents: readonly string[];
    dependencyCounts: Readonly<Record<string, number>>;
  } = NO_PROPAGATION,
  now = T0,
): Promise<FinishResult> {
  const result = await store.finishExecution(
    key,
    token === undefined ? { status: ["running"] } : { status: ["running"], token },
    { status: "succeeded", output: { from: key } },
    propagation,
    now,
  );
  expect(result, `finish of ${key}`).not.toBeNull();
  return result as FinishResult;
}

/** Claims and finishes a node of the plan as succeeded. */
export async function runToSuccess(
  store: Store,
  runId: string,
  nodeId: string,
  propagation: {
    dependents: readonly string[];
    dependencyCounts: Readonly<Record<string, number>>;
  } = NO_PROPAGATION,
): Promise<FinishResult> {
  const key = executionKey(runId, nodeId);
  return succeed(store, key, await claim(store, key), propagation);
}

/** A run with its executions (items included), sorted by key: compared before and after an operation. */
export interface Snapshot {
  readonly run: RunRecord | null;
  readonly executions: ExecutionRecord[];
}

export async function snapshot(store: Store, runId: string): Promise<Snapshot> {
  const executions = await store.getExecutions(runId, { items: true });
  return {
    run: await store.getRun(runId),
    executions: [...executions].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

export const SEED_STATES = [
  "pending",
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
] as const;
export type SeedState = (typeof SEED_STATES)[number];

/**
 * A bystander: one run with one execution in every state (a node named after
 * its state), and a map node ("waiting") with one queued and one pending item.
 * A test seeds it, operates on something else, and checks with
 * expectUnaffected() that nothing of it changed.
 */
export interface Seeded {
  readonly runId: string;
  readonly key: Readonly<Record<SeedState, string>>;
  /** Lease token of the `running` execution (held until HELD_UNTIL). */
  readonly runningToken: string;
  /** The map items of `waiting`: #0 queued, #1 pending. */
  readonly items: readonly [string, string];
  readonly before: Snapshot;
}

export async function seedEveryState(store: Store): Promise<Seeded> {
  const run = await createRun(store, SEED_STATES, { workflow: { name: `seed-${randomUUID()}`, version: 1 } });
  const key = Object.fromEntries(SEED_STATES.map((state) => [state, executionKey(run.id, state)])) as Record<
    SeedState,
    string
  >;
  const moved = await store.queueExecutions(
    [key.queued, key.running, key.waiting, key.succeeded, key.failed, key.cancelled],
    T0,
  );
  expect(moved).toHaveLength(6);

  const runningToken = randomUUID();
  expect(
    await store.claimExecution(key.running, { token: runningToken, until: HELD_UNTIL }, T0),
  ).not.toBeNull();

  const waitingToken = randomUUID();
  expect(
    await store.claimExecution(key.waiting, { token: waitingToken, until: HELD_UNTIL }, T0),
  ).not.toBeNull();
  await store.createItems(run.id, "waiting", ["first", "second"], T0);
  expect(await store.startWaiting(key.waiting, waitingToken, { itemsTotal: 2 }, T0)).toBe(true);
  const items: [string, string] = [executionKey(run.id, "waiting", 0), executionKey(run.id, "waiting", 1)];
  expect(await store.queueNextItems(run.id, "waiting", 1, T0)).toEqual([items[0]]);

  const succeededToken = randomUUID();
  await store.claimExecution(key.succeeded, { token: succeededToken, until: HELD_UNTIL }, T0);
  await succeed(store, key.succeeded, succeededToken);

  const failedToken = randomUUID();
  await store.claimExecution(key.failed, { token: failedToken, until: HELD_UNTIL }, T0);
  expect(
    await store.finishExecution(
      key.failed,
      { status: ["running"], token: failedToken },
      { status: "failed", error: BOOM },
      NO_PROPAGATION,
      T0,
    ),
  ).not.toBeNull();

  expect(
    await store.finishExecution(
      key.skipped,
      { status: ["pending"] },
      { status: "skipped" },
      NO_PROPAGATION,
      T0,
    ),
  ).not.toBeNull();
  expect(
    await store.finishExecution(
      key.cancelled,
      { status: ["queued"] },
      { status: "cancelled" },
      NO_PROPAGATION,
      T0,
    ),
  ).not.toBeNull();

  const before = await snapshot(store, run.id);
  const statuses = Object.fromEntries(
    before.executions.map((execution) => [execution.key, execution.status]),
  );
  expect(statuses).toEqual({
    [key.pending]: "pending",
    [key.queued]: "queued",
    [key.running]: "running",
    [key.waiting]: "running",
    [key.succeeded]: "succeeded",
    [key.failed]: "failed",
    [key.skipped]: "skipped",
    [key.cancelled]: "cancelled",
    [items[0]]: "queued",
    [items[1]]: "pending",
  });
  return { runId: run.id, key, runningToken, items, before };
}

/** The seeded run and every one of its executions are exactly as they were. */
export async function expectUnaffected(store: Store, seeded: Seeded): Promise<void> {
  expect(await snapshot(store, seeded.runId)).toEqual(seeded.before);
}

/** Keys that belong to the given runs (a result may also hold the bystanders' keys). */
export function ofRuns(keys: readonly string[], runIds: readonly string[]): string[] {
  return keys.filter((key) => runIds.some((runId) => key.startsWith(`${runId}/`))).sort();
}

export function sorted<T>(values: readonly T[]): T[] {
  return [...values].sort();
}
