import { performance } from "node:perf_hooks";
import type { Engine } from "../engine/engine.ts";

/**
 * The queue comparison's shape (issue 12 §4): many runs, started at once, each
 * one map of no-op transforms over its items. A run is ITEMS + 1 node
 * executions (the items and the map node that gathers them), as a BullMQ flow
 * of the same shape is ITEMS children + 1 parent job.
 */
export const MAP_RUNS_WORKFLOW = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: map-run }
spec:
  nodes:
    each:
      type: map
      items: "{{ inputs.values }}"
      node: { type: transform, expr: "item" }
`;

/** Starts `runs` runs of `items` items at once and waits for all: node executions/s. */
export async function mapRunsBurst(engine: Engine, runs: number, items: number): Promise<number> {
  const values = Array.from({ length: items }, (_, index) => index);
  const started = performance.now();
  const ids = await Promise.all(
    Array.from({ length: runs }, () => engine.startRun({ workflow: "map-run", input: { values } })),
  );
  for (const { id } of ids) {
    const finished = await engine.waitForRun(id, 600_000);
    if (finished?.status !== "succeeded") throw new Error(`a map run ended ${finished?.status}`);
  }
  return (runs * (items + 1)) / ((performance.now() - started) / 1000);
}
