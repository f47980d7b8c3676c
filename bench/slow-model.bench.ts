/**
 * Many concurrent runs on a slow model (issue 12 §5): BENCH_RUNS runs (default
 * 1,000), started at once, each one model call on a `mock` model that answers
 * after BENCH_MODEL_MS (default 2,000 ms), with the workers' concurrency
 * BENCH_CONCURRENCY (default 512), on the embedded default (SQLite WAL file,
 * in-process broker). The model allows ceil(runs / concurrency) waves of its
 * latency (4 s for the defaults); the engine must not be the bottleneck: the
 * wall time, from the first start to the last run's end, within 1.5× of that.
 *
 * Reports the wall time against that bound, how long starting every run took,
 * the most worker slots busy at once (sampled every 50 ms: all 512 should
 * fill), and this process's peak RSS.
 *
 * Run: npm run bench:slow-model
 */
import { performance } from "node:perf_hooks";
import { embeddedEngine } from "./embedded-engine.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 1000);
const MODEL_MS = Number(process.env.BENCH_MODEL_MS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 512);

const definitions = `apiVersion: pflow/v1
kind: Model
metadata: { name: slow }
spec:
  versions:
    "1": { provider: mock, latency: ${MODEL_MS}ms, response: { text: "{{ 'answer ' & input.n }}" } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: ask }
spec:
  nodes:
    answer: { type: model, model: slow, input: { n: "{{ inputs.n }}" } }
`;

let mostBusy = 0;
const { engine, close } = await embeddedEngine([{ path: "slow.yaml", text: definitions }], {
  config: { concurrency: CONCURRENCY },
});
const sampler = setInterval(() => {
  mostBusy = Math.max(mostBusy, engine.activity.slotsBusy);
}, 50);
try {
  // Warm-up: one run, so the plan and the model's provider are loaded.
  const warm = await engine.startRun({ workflow: "ask", input: { n: -1 } });
  await engine.waitForRun(warm.id, 60_000);

  const began = performance.now();
  const runs = await Promise.all(
    Array.from({ length: RUNS }, (_, n) => engine.startRun({ workflow: "ask", input: { n } })),
  );
  const startedAll = (performance.now() - began) / 1000;
  const finished = await Promise.all(runs.map((run) => engine.waitForRun(run.id, 600_000)));
  const wall = (performance.now() - began) / 1000;
  const failed = finished.filter((run) => run?.status !== "succeeded").length;
  if (failed > 0) throw new Error(`${failed} runs did not succeed`);

  const waves = Math.ceil(RUNS / CONCURRENCY);
  const allowed = (waves * MODEL_MS) / 1000;
  console.log(
    `slow model: ${RUNS} runs started at once, each one ${MODEL_MS} ms mock model call, worker concurrency ${CONCURRENCY} (embedded default)`,
  );
  console.log(
    `  wall ${wall.toFixed(2)} s; the model allows ${allowed.toFixed(1)} s (${waves} wave${waves === 1 ? "" : "s"}): ` +
      `${(wall / allowed).toFixed(2)}× (target ≤ 1.5×)`,
  );
  console.log(
    `  every run started (202-equivalent) in ${startedAll.toFixed(2)} s; most worker slots busy ${mostBusy}; ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
  );
} finally {
  clearInterval(sampler);
  await close();
}
