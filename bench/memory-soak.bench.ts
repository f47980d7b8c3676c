/**
 * Memory over many sequential runs (issue 12 §5: flat over 100,000). One
 * process as `pflow serve` runs it (the API with its metrics and every route,
 * the embedded store and broker, the workers), BENCH_RUNS runs (default
 * 100,000) one after another, each started through the HTTP API and waited
 * for. The workflow touches the parts that keep state per run, node or model
 * in memory, in few nodes (so that many runs fit in a few minutes): a
 * transform, then a two-item map of model calls (a `mock` model: the model's
 * call statistics, usage and pinning; the map's items and its dependencies).
 *
 * Every BENCH_RUNS / 20 runs it collects garbage (run with --expose-gc) and
 * samples the heap in use, RSS and external memory. A leak shows as a heap
 * that keeps rising. The per-run caches fill to their bounds first (the last
 * 10,000 runs: engine/runner.ts, engine/store/run-inputs.ts), so the summary
 * is over the second half of the runs (run more than 20,000 to see the
 * plateau): the heap's and RSS's least-squares slopes (KB per 10,000 runs)
 * beside their ranges.
 *
 * Run: npm run bench:memory-soak   (BENCH_RUNS to vary)
 */
import { performance } from "node:perf_hooks";
import { embeddedApi } from "./embedded-engine.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 100_000);
const SAMPLES = 20;

const definitions = `apiVersion: pflow/v1
kind: Model
metadata: { name: quick }
spec:
  versions:
    "1": { provider: mock, response: { text: "{{ 'seen ' & input.n }}" } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: soak }
spec:
  nodes:
    pair: { type: transform, expr: "[inputs.n, inputs.n + 1]" }
    each:
      type: map
      items: "{{ nodes.pair.output }}"
      node: { type: model, model: quick, input: { n: "{{ item }}" } }
`;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc (npm run bench:memory-soak does)");
const { engine, base, close } = await embeddedApi([{ path: "soak.yaml", text: definitions }]);

interface Sample {
  readonly runs: number;
  readonly heapMb: number;
  readonly rssMb: number;
  readonly externalMb: number;
}
const samples: Sample[] = [];
function sample(runs: number): void {
  gc?.();
  gc?.();
  const memory = process.memoryUsage();
  samples.push({
    runs,
    heapMb: memory.heapUsed / 2 ** 20,
    rssMb: memory.rss / 2 ** 20,
    externalMb: (memory.external + memory.arrayBuffers) / 2 ** 20,
  });
}

try {
  const every = Math.max(1, Math.floor(RUNS / SAMPLES));
  const began = performance.now();
  sample(0);
  for (let n = 1; n <= RUNS; n++) {
    const response = await fetch(`${base}/v1/workflows/soak/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: { n } }),
    });
    if (response.status !== 202)
      throw new Error(`start answered ${response.status}: ${await response.text()}`);
    const { id } = (await response.json()) as { id: string };
    const run = await engine.waitForRun(id, 60_000);
    if (run?.status !== "succeeded") throw new Error(`run ${id} ended ${run?.status}`);
    if (n % every === 0) sample(n);
  }
  const seconds = (performance.now() - began) / 1000;

  const steady = samples.filter((s) => s.runs >= RUNS / 2);
  const slope = (pick: (s: Sample) => number) => {
    const xs = steady.map((s) => s.runs);
    const ys = steady.map(pick);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const num = xs.reduce((sum, x, i) => sum + (x - mx) * ((ys[i] as number) - my), 0);
    const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
    return den === 0 ? 0 : (num / den) * 10_000 * 1024; // KB per 10,000 runs
  };
  const range = (pick: (s: Sample) => number) => {
    const values = steady.map(pick);
    return `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)} MB`;
  };
  console.log(
    `memory over ${RUNS} sequential runs (a transform, then a 2-item map of mock model calls: 4 node executions each), ` +
      `each started through the HTTP API, embedded default: ${seconds.toFixed(0)} s, ${(RUNS / seconds).toFixed(0)} runs/s`,
  );
  console.log(
    `  heap after GC, every ${every} runs (MB): ${samples.map((s) => s.heapMb.toFixed(1)).join(" ")}`,
  );
  console.log(`  RSS (MB): ${samples.map((s) => s.rssMb.toFixed(0)).join(" ")}`);
  console.log(
    `  over the second half: heap ${range((s) => s.heapMb)}, slope ${slope((s) => s.heapMb).toFixed(0)} KB per 10,000 runs; ` +
      `RSS ${range((s) => s.rssMb)}, slope ${slope((s) => s.rssMb).toFixed(0)} KB per 10,000 runs; ` +
      `external ${range((s) => s.externalMb)}`,
  );
} finally {
  await close();
}
