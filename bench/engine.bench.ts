/**
 * Engine throughput on the embedded default (SQLite file in WAL mode, in-process
 * broker), with no-op transform nodes so what is measured is the engine:
 * - a 1,000-wide fan-out/fan-in (root → 1,000 nodes → join),
 * - a 1,000-long chain,
 * - 500 runs of a 20-item map started at once, against BullMQ flows on Redis
 *   in the same run (issue 12 §4: at least 2×) when redis-server is installed
 *   (bench/bullmq-flows.ts; `npm run bench:queues` runs that part alone),
 * - memory over many sequential small runs (heap after GC, sampled).
 * Targets (docs/architecture): ≥ 5,000 node executions/s, ≤ 200 µs engine
 * overhead per node, memory flat.
 *
 * Run: npm run bench:engine   (BENCH_RUNS=100000 for the full memory figure)
 */
import { performance } from "node:perf_hooks";
import { compareWithBullmq, redisInstalled } from "./bullmq-flows.ts";
import { embeddedEngine } from "./embedded-engine.ts";
import { MAP_RUNS_WORKFLOW, mapRunsBurst } from "./map-runs.ts";

const WIDTH = 1000;
const fanOut = [
  "apiVersion: pflow/v1",
  "kind: Workflow",
  "metadata: { name: fan }",
  "spec:",
  "  nodes:",
  "    root: { type: transform, expr: '0' }",
  ...Array.from(
    { length: WIDTH },
    (_, i) => `    n${i}: { type: transform, expr: 'nodes.root.output + ${i}' }`,
  ),
  `    join: { type: transform, expr: '1', needs: [${Array.from({ length: WIDTH }, (_, i) => `n${i}`).join(", ")}] }`,
].join("\n");
const chain = [
  "apiVersion: pflow/v1",
  "kind: Workflow",
  "metadata: { name: chain }",
  "spec:",
  "  nodes:",
  "    c0: { type: transform, expr: '0' }",
  ...Array.from(
    { length: WIDTH - 1 },
    (_, i) => `    c${i + 1}: { type: transform, expr: 'nodes.c${i}.output + 1' }`,
  ),
].join("\n");
const small = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: small }
spec:
  nodes:
    a: { type: transform, expr: "inputs.n + 1" }
    b: { type: transform, expr: "nodes.a.output * 2" }
`;

const { engine, close } = await embeddedEngine([
  { path: "fan.yaml", text: fanOut },
  { path: "chain.yaml", text: chain },
  { path: "small.yaml", text: small },
  { path: "map-run.yaml", text: MAP_RUNS_WORKFLOW },
]);

async function timeRun(workflow: string, nodes: number): Promise<number> {
  const started = performance.now();
  const run = await engine.startRun({ workflow, input: { n: 1 } });
  const finished = await engine.waitForRun(run.id, 600_000);
  if (finished?.status !== "succeeded") throw new Error(`${workflow} ended ${finished?.status}`);
  const ms = performance.now() - started;
  console.log(
    `  ${workflow.padEnd(6)} ${String(nodes).padStart(5)} nodes  ${ms.toFixed(0).padStart(6)} ms  ` +
      `${((nodes / ms) * 1000).toFixed(0).padStart(6)} node executions/s  ${((ms * 1000) / nodes).toFixed(0)} µs/node`,
  );
  return ms;
}

console.log("engine, embedded default (SQLite WAL file + in-process broker), no-op transforms:");
await timeRun("small", 2); // warm-up
for (let i = 0; i < 2; i++) {
  await timeRun("fan", WIDTH + 2);
  await timeRun("chain", WIDTH);
}

const burst = { runs: 500, items: 20, concurrency: 16 };
if (redisInstalled()) {
  await compareWithBullmq(engine, burst, 3);
} else {
  await mapRunsBurst(engine, 20, burst.items); // warm-up
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) rates.push(await mapRunsBurst(engine, burst.runs, burst.items));
  console.log(
    `${burst.runs} runs × ${burst.items}-item map, started at once: ${rates.map((rate) => rate.toFixed(0)).join(", ")} node executions/s` +
      " (no redis-server on the PATH: BullMQ not measured; apt-get install redis-server)",
  );
}

const runs = Number(process.env.BENCH_RUNS ?? 20_000);
const sampleEvery = Math.max(1, Math.floor(runs / 10));
const heap: number[] = [];
const gc = (globalThis as { gc?: () => void }).gc;
const started = performance.now();
for (let i = 1; i <= runs; i++) {
  const run = await engine.startRun({ workflow: "small", input: { n: i } });
  await engine.waitForRun(run.id, 60_000);
  if (i % sampleEvery === 0) {
    gc?.();
    heap.push(process.memoryUsage().heapUsed / 1e6);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `sequential small runs (2 nodes): ${runs} runs in ${seconds.toFixed(1)} s, ${(runs / seconds).toFixed(0)} runs/s`,
);
console.log(
  `  heap after GC every ${sampleEvery} runs (MB): ${heap.map((h) => h.toFixed(1)).join(" ")}${gc ? "" : "  (run with --expose-gc for exact figures)"}`,
);
await close();
