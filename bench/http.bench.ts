/**
 * HTTP throughput and latency of the API on the embedded default (SQLite file
 * in WAL mode, in-process broker, workers in the same process), as `pflow
 * serve` runs it, metrics observer included:
 * (a) POST /v1/workflows/small/runs: start a run of a 2-node transform workflow;
 * (b) GET /v1/runs/{id}: read a finished run.
 * Each for BENCH_SECONDS (default 10) with BENCH_CONNECTIONS (default 10)
 * connections: on a 2-core machine, 10 keeps the one event loop saturated
 * without queueing so much that latency measures autocannon's own backlog.
 * The rate limit is lifted: it would answer 429 to most of the load.
 *
 * Run: node bench/http.bench.ts
 */
import { availableParallelism } from "node:os";
// @ts-expect-error autocannon ships no type declarations; `Autocannon` below types the part used here.
import untypedAutocannon from "autocannon";
import { embeddedApi } from "./embedded-engine.ts";

interface Histogram {
  readonly average: number;
  readonly p50: number;
  readonly p99: number;
}
interface AutocannonResult {
  readonly requests: Histogram & { readonly total: number };
  readonly latency: Histogram;
  readonly non2xx: number;
  readonly errors: number;
}
type Autocannon = (options: {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  duration: number;
}) => Promise<AutocannonResult>;
const autocannon = untypedAutocannon as Autocannon;

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const KEY = "bench-admin-key-0123456789abcdef";

const small = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: small }
spec:
  nodes:
    a: { type: transform, expr: "inputs.n + 1" }
    b: { type: transform, expr: "nodes.a.output * 2" }
`;
const { engine, base, close } = await embeddedApi([{ path: "small.yaml", text: small }], {
  keys: `${KEY}:admin`,
});
const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

function report(label: string, result: AutocannonResult): void {
  const failures = result.non2xx + result.errors;
  console.log(
    `  ${label.padEnd(32)} ${result.requests.average.toFixed(0).padStart(6)} requests/s  ` +
      `p50 ${String(result.latency.p50).padStart(3)} ms  p99 ${String(result.latency.p99).padStart(3)} ms  ` +
      `(${result.requests.total} requests${failures > 0 ? `, ${failures} not 2xx or failed` : ""})`,
  );
}

/** The runs (a) started are still executing: let them finish, so that (b) measures reads alone. */
async function drain(limitMs: number): Promise<number> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const unfinished = await engine.services.store.findUnfinishedRuns(1);
    if (unfinished.length === 0 || Date.now() > deadline) return unfinished.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

try {
  console.log(
    `HTTP API, embedded default (SQLite WAL file + in-process broker), ${availableParallelism()} cores, ` +
      `${CONNECTIONS} connections (BENCH_CONNECTIONS), ${SECONDS} s each (BENCH_SECONDS):`,
  );
  console.log("  (while (a) runs, the same process's workers execute the runs it starts)");
  const starts = await autocannon({
    url: `${base}/v1/workflows/small/runs`,
    method: "POST",
    headers,
    body: JSON.stringify({ input: { n: 1 } }),
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  report("POST /v1/workflows/small/runs", starts);

  const drainStarted = Date.now();
  if ((await drain(120_000)) > 0) console.log("  (runs were still unfinished after 120 s)");
  else console.log(`  the runs started finished ${((Date.now() - drainStarted) / 1000).toFixed(1)} s later`);

  const run = await engine.startRun({ workflow: "small", input: { n: 1 } });
  const finished = await engine.waitForRun(run.id, 10_000);
  if (finished?.status !== "succeeded") throw new Error(`the run to read ended ${finished?.status}`);
  const reads = await autocannon({
    url: `${base}/v1/runs/${run.id}`,
    headers: { authorization: `Bearer ${KEY}` },
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  report("GET /v1/runs/{id} (finished)", reads);
} finally {
  await close();
}
