/**
 * The production topology on one machine: one API process (`pflow serve
 * --no-workers`) and two `pflow worker` processes, on RabbitMQ and the
 * MongoDB-wire server (scripts/services.sh starts both), many concurrent runs
 * of a small fan-out workflow of no-op transforms (root → 8 → join: 10 nodes).
 * Targets (docs/architecture): ≥ 1,000 node executions/s; trigger-to-first-
 * dispatch p50 ≤ 5 ms.
 *
 * Reports:
 * - throughput: node executions/s over the whole batch, start to last finish;
 * - trigger to first dispatch: the API's time from receiving the start request
 *   to answering it, by which point the run is stored and its root node's task
 *   confirmed by RabbitMQ (measured by the client, so an upper bound);
 * - trigger to first claim: from the run's creation to its root node being
 *   claimed by a worker (both times stamped by the processes themselves);
 * - run latency: creation to finish, per run.
 *
 * Run: node bench/distributed.bench.ts   (BENCH_RUNS, BENCH_IN_FLIGHT to vary)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import amqp from "amqplib";
import { MongoClient } from "mongodb";
import { MongoStore } from "../engine/store/mongo/mongo-store.ts";
import { FAN_WORKFLOW, NODES } from "./fan-workflow.ts";

// The atomic MongoDB-wire server (mongo-java-server), where the store runs as on
// MongoDB; BENCH_MONGO_URL points elsewhere (FerretDB's URL measures its locked mode).
const MONGO_URL =
  process.env.BENCH_MONGO_URL ?? process.env.PFLOW_TEST_MONGO_ATOMIC_URL ?? "mongodb://127.0.0.1:27018/";
const AMQP_URL = process.env.PFLOW_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const RUNS = Number(process.env.BENCH_RUNS ?? 600);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 24);
const BIN = join(import.meta.dirname, "../cli/pflow.js");

const id = randomUUID().replaceAll("-", "").slice(0, 12);
const database = `pflow_bench_${id}`;
const dir = mkdtempSync(join(tmpdir(), "pflow-distributed-"));
mkdirSync(join(dir, "defs"));
writeFileSync(join(dir, "defs", "fan.yaml"), FAN_WORKFLOW);
const storeUrl = new URL(MONGO_URL);
storeUrl.pathname = `/${database}`;
const env = {
  ...process.env,
  PFLOW_STORE_URL: storeUrl.toString(),
  PFLOW_BROKER_URL: AMQP_URL,
  PFLOW_BROKER_PREFIX: `pflow-bench-${id}`,
  PFLOW_DEFINITIONS: join(dir, "defs"),
  PFLOW_LOG_LEVEL: "warn",
  PFLOW_RATE_LIMIT: "1000000",
  PFLOW_WORKER_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? "32",
};

const children: ChildProcess[] = [];
function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env,
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  return child;
}

async function until(
  probe: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const port = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const address = server.address();
    server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
  });
});
const base = `http://127.0.0.1:${port}`;
const store = new MongoStore(storeUrl.toString());
try {
  start(["serve", "--no-workers", "--port", String(port)]);
  await until(async () => (await fetch(`${base}/readyz`)).ok, "the API");
  start(["worker"]);
  start(["worker"]);
  await store.start();

  async function startRun(n: number): Promise<{ id: string; ms: number }> {
    const began = performance.now();
    const response = await fetch(`${base}/v1/workflows/fan/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: { n } }),
    });
    if (response.status !== 202) throw new Error(`start: ${response.status} ${await response.text()}`);
    const { id: runId } = (await response.json()) as { id: string };
    return { id: runId, ms: performance.now() - began };
  }

  async function batch(count: number): Promise<{ ids: string[]; startMs: number[]; seconds: number }> {
    const ids: string[] = [];
    const startMs: number[] = [];
    const began = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(IN_FLIGHT, count) }, async () => {
        while (next < count) {
          const n = next++;
          const started = await startRun(n);
          ids.push(started.id);
          startMs.push(started.ms);
        }
      }),
    );
    // Polled by run status, in one query, twice a second: the benchmark's own
    // reads must not be a load on the store it measures.
    await until(
      async () => {
        const finished = await countFinished(ids);
        if (process.env.BENCH_VERBOSE) console.log(`  ${finished}/${ids.length} runs finished`);
        return finished === ids.length;
      },
      "every run to finish",
      600_000,
      500,
    );
    return { ids, startMs, seconds: (performance.now() - began) / 1000 };
  }

  async function countFinished(ids: readonly string[]): Promise<number> {
    const [{ items: failed }, { items: succeeded }] = await Promise.all([
      store.listRuns({ status: "failed", limit: 1 }),
      store.listRuns({ status: "succeeded", limit: ids.length + 100 }),
    ]);
    if (failed[0]) throw new Error(`run ${failed[0].id} failed: ${JSON.stringify(failed[0].error)}`);
    const mine = new Set(ids);
    return succeeded.filter((run) => mine.has(run.id)).length;
  }

  await batch(Number(process.env.BENCH_WARMUP ?? 50)); // warm-up: connections, caches, JIT
  const { ids, startMs, seconds } = await batch(RUNS);

  const firstClaim: number[] = [];
  const runLatency: number[] = [];
  for (const runId of ids) {
    const run = await store.getRun(runId);
    const root = await store.getExecution(`${runId}/root`);
    if (run && root?.startedAt) firstClaim.push(root.startedAt - run.createdAt);
    if (run?.finishedAt) runLatency.push(run.finishedAt - run.createdAt);
  }
  const executions = RUNS * NODES;
  console.log(
    `distributed: 1 API + 2 workers, RabbitMQ ${AMQP_URL.replace(/\/\/.*@/, "//")} + MongoDB-wire ${MONGO_URL}`,
  );
  console.log(`  ${RUNS} runs × ${NODES} nodes, ${IN_FLIGHT} starts in flight`);
  console.log(
    `  throughput: ${executions} node executions in ${seconds.toFixed(2)} s = ${(executions / seconds).toFixed(0)} node executions/s (${(RUNS / seconds).toFixed(0)} runs/s)`,
  );
  console.log(`  trigger to first dispatch (POST answered, root task confirmed): ${summary(startMs)}`);
  console.log(`  trigger to first claim (run created → root claimed by a worker): ${summary(firstClaim)}`);
  console.log(`  run latency (created → finished): ${summary(runLatency)}`);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => new Promise((resolve) => child.once("exit", resolve))));
  await store.close();
  const client = new MongoClient(MONGO_URL);
  await client.db(database).dropDatabase();
  await client.close();
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  for (const queue of ["tasks.default", "dead-letters"])
    await channel.deleteQueue(`pflow-bench-${id}.${queue}`);
  await connection.close();
  rmSync(dir, { recursive: true, force: true });
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return `p50 ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms`;
}
