import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { executionKey } from "../../../engine/store/records.ts";
import {
  claim,
  createRun,
  expectUnaffected,
  HELD_UNTIL,
  NO_PROPAGATION,
  type StoreContext,
  seedEveryState,
  T0,
} from "./seed.ts";

/**
 * Calls made at once, as several workers (or one worker's concurrent deliveries)
 * make them: the conditional transitions still let exactly one caller win, and
 * propagation still counts each finish once.
 */
export function concurrencyContract(context: StoreContext): void {
  it("of concurrent claims of one execution, exactly one wins", async () => {
    const { store } = context;
    const seeded = await seedEveryState(store);
    const run = await createRun(store, ["a"]);
    const a = executionKey(run.id, "a");
    await store.queueExecutions([a], T0);
    const tokens = Array.from({ length: 8 }, () => randomUUID());
    const claims = await Promise.all(
      tokens.map((token) => store.claimExecution(a, { token, until: HELD_UNTIL }, T0)),
    );
    const winners = claims.filter((claimed) => claimed !== null);
    expect(winners).toHaveLength(1);
    expect(await store.getExecution(a)).toMatchObject({
      status: "running",
      attempt: 1,
      attemptsTotal: 1,
      leaseToken: winners[0]?.leaseToken,
    });
    await expectUnaffected(store, seeded);
  });

  it("of concurrent finishes of one execution, exactly one happens and is counted", async () => {
    const { store } = context;
    const run = await createRun(store, ["a", "b", "c"]);
    const a = executionKey(run.id, "a");
    await claim(store, a);
    const propagation = { dependents: ["b"], dependencyCounts: { b: 1 } };
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        store.finishExecution(
          a,
          { status: ["running"] },
          { status: "succeeded", output: index, usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } },
          propagation,
          T0 + index,
        ),
      ),
    );
    const done = results.filter((result) => result !== null);
    expect(done).toHaveLength(1);
    expect(done[0]?.ready).toEqual(["b"]);
    expect(await store.getRun(run.id)).toMatchObject({
      nodesDone: 1,
      usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
    });
    expect(await store.getExecution(executionKey(run.id, "b"))).toMatchObject({ depsDone: 1 });
  });

  it("when a node's dependencies finish at once, exactly one finish reports it ready", async () => {
    const { store } = context;
    const parents = Array.from({ length: 8 }, (_, index) => `p${index}`);
    const run = await createRun(store, [...parents, "join"]);
    const tokens = await Promise.all(parents.map((node) => claim(store, executionKey(run.id, node))));
    const propagation = { dependents: ["join"], dependencyCounts: { join: parents.length } };
    const results = await Promise.all(
      parents.map((node, index) =>
        store.finishExecution(
          executionKey(run.id, node),
          { status: ["running"], token: tokens[index] },
          { status: "succeeded" },
          propagation,
          T0 + 1,
        ),
      ),
    );
    expect(results.every((result) => result !== null)).toBe(true);
    expect(results.filter((result) => result?.ready.includes("join"))).toHaveLength(1);
    expect(results.some((result) => result?.runComplete)).toBe(false);
    expect(await store.getExecution(executionKey(run.id, "join"))).toMatchObject({
      depsDone: parents.length,
    });
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: parents.length });
  });

  it("when the last nodes of a run finish at once, exactly one finish reports the run complete", async () => {
    const { store } = context;
    const nodes = Array.from({ length: 8 }, (_, index) => `n${index}`);
    const run = await createRun(store, nodes);
    const tokens = await Promise.all(nodes.map((node) => claim(store, executionKey(run.id, node))));
    const results = await Promise.all(
      nodes.map((node, index) =>
        store.finishExecution(
          executionKey(run.id, node),
          { status: ["running"], token: tokens[index] },
          { status: "succeeded" },
          NO_PROPAGATION,
          T0 + 1,
        ),
      ),
    );
    expect(results.filter((result) => result?.runComplete)).toHaveLength(1);
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: nodes.length, nodesTotal: nodes.length });
  });

  it("when items finish at once, each sees its own count and exactly one sees them all done", async () => {
    const { store } = context;
    const run = await createRun(store, ["map"]);
    const map = executionKey(run.id, "map");
    const token = await claim(store, map);
    const values = Array.from({ length: 8 }, (_, index) => index);
    await store.createItems(run.id, "map", values, T0);
    await store.startWaiting(map, token, { itemsTotal: values.length }, T0);
    const keys = await store.queueNextItems(run.id, "map", values.length, T0);
    const tokens = keys.map(() => randomUUID());
    await Promise.all(
      keys.map((key, index) =>
        store.claimExecution(key, { token: tokens[index] ?? "", until: HELD_UNTIL }, T0),
      ),
    );
    const results = await Promise.all(
      keys.map((key, index) =>
        store.finishExecution(
          key,
          { status: ["running"], token: tokens[index] },
          { status: "succeeded", output: index },
          NO_PROPAGATION,
          T0 + 1,
        ),
      ),
    );
    const counts = results.map((result) => result?.items?.done).sort((x, y) => (x ?? 0) - (y ?? 0));
    expect(counts).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(results.every((result) => result?.items?.total === values.length)).toBe(true);
    expect(await store.getRun(run.id)).toMatchObject({ nodesDone: 0 });
  });

  it("of concurrent compare-and-set registrations on one version, exactly one is registered", async () => {
    const { store } = context;
    const name = `cas-${randomUUID().slice(0, 8)}`;
    const base = await store.registerDefinition(
      { kind: "Model", name, hash: "base", source: "# base\n", compiled: { base: true } },
      T0,
    );
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        store.registerDefinitionIfLatest(
          { kind: "Model", name, hash: `change-${index}`, source: `# ${index}\n`, compiled: { index } },
          base.record.version,
          T0 + 1 + index,
        ),
      ),
    );
    const winners = results.filter((result) => result !== null);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ created: true, record: { version: 2 } });
    const versions = await store.listDefinitionVersions("Model", name);
    expect(versions.map((version) => version.hash)).toEqual(["base", winners[0]?.record.hash]);
  });
}
