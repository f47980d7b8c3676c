/**
 * One embedded run of a large map of no-op transforms, at the map's concurrency
 * 200: whether the per-item cost stays flat as the map grows (issue 12 §5: at
 * 100,000 items it must run at the 1,000-item rate). Two ways a map gets its
 * items, each once per size, each in a fresh engine and SQLite file:
 * - `input`: from the run's input (`{{ inputs.values }}`), which every item's
 *   claim reads with its run;
 * - `node`: from an upstream node's output (`{{ nodes.list.output }}`), which
 *   every item's context holds.
 *
 * Reports for each: time, items/s, the CPU time this process spent per item
 * (user + system: on a machine shared with other work the flatness shows there
 * even when the wall time does not), the process's peak RSS so far, and the
 * store's size on disk (SQLite file and its WAL) when the run has finished.
 *
 * Run: node bench/map-scale.bench.ts   (BENCH_ITEMS=1000,10000,100000 and
 * BENCH_SOURCES=input,node to vary)
 */
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { embeddedEngine } from "./embedded-engine.ts";

const SIZES = (process.env.BENCH_ITEMS ?? "1000,10000,100000").split(",").map(Number);
const SOURCES = (process.env.BENCH_SOURCES ?? "input,node").split(",");

const workflows = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: map-of-input }
spec:
  nodes:
    each:
      type: map
      items: "{{ inputs.values }}"
      concurrency: 200
      node: { type: transform, expr: "item" }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: map-of-node }
spec:
  nodes:
    list: { type: transform, expr: "[1..inputs.n]" }
    each:
      type: map
      items: "{{ nodes.list.output }}"
      concurrency: 200
      node: { type: transform, expr: "item" }
`;

function storeBytes(file: string): number {
  const dir = dirname(file);
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

console.log(
  "one embedded run of a map of no-op transforms, concurrency 200 (SQLite WAL + in-process broker):",
);
for (const source of SOURCES) {
  for (const items of SIZES) {
    let file = "";
    const { engine, close } = await embeddedEngine([{ path: "maps.yaml", text: workflows }], {
      onStore: (path) => {
        file = path;
      },
    });
    try {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const run = await engine.startRun(
        source === "input"
          ? {
              workflow: "map-of-input",
              input: { values: Array.from({ length: items }, (_, index) => index) },
            }
          : { workflow: "map-of-node", input: { n: items } },
      );
      const finished = await engine.waitForRun(run.id, 3_600_000);
      if (finished?.status !== "succeeded")
        throw new Error(`the ${items}-item map ended ${finished?.status}`);
      const seconds = (performance.now() - started) / 1000;
      const spent = process.cpuUsage(cpu);
      const cpuPerItem = (spent.user + spent.system) / items;
      console.log(
        `  items from ${source.padEnd(5)} ${String(items).padStart(7)} items  ${seconds.toFixed(2).padStart(7)} s  ` +
          `${(items / seconds).toFixed(0).padStart(6)} items/s  ${cpuPerItem.toFixed(0).padStart(4)} µs CPU/item  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB  ` +
          `store ${(storeBytes(file) / 1e6).toFixed(1)} MB`,
      );
    } finally {
      await close();
    }
  }
}
