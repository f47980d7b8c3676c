/**
 * 10,000 runs started at once through the HTTP API (issue 12 §5), in the two
 * topologies, each process a real `pflow` process as deployed:
 * - embedded: one `pflow serve` (SQLite file in WAL mode, in-process broker,
 *   its own workers);
 * - distributed: one `pflow serve --no-workers` and two `pflow worker`, on
 *   RabbitMQ and the atomic MongoDB-wire server (scripts/services.sh starts
 *   both; PFLOW_TEST_AMQP_URL and PFLOW_TEST_MONGO_ATOMIC_URL name them).
 *
 * The workflow is a two-node chain of no-op transforms, so a run is one API
 * start, one root dispatch and one dispatch of a successor: what is measured is
 * the engine taking a burst, not a model. Every start request is issued at
 * once; the client keeps BENCH_CONNECTIONS keep-alive connections (default
 * 256), so the rest wait in its queue as they would in a load balancer's.
 * The connections are opened before the burst, by as many warm-up starts
 * (BENCH_WARMUP): a connection opened during it waits in the kernel's accept
 * queue until the saturated event loop accepts it, near the burst's end (plain
 * Node does the same; see docs/operations.md, "Figures at scale"), and that
 * would measure the client's connection pool, not the API.
 *
 * Reports, per topology:
 * - accepted: the time until the API has answered all starts (202 each);
 * - drained: the time until every run has finished (from the first request);
 * - start latency, p50/p99/max: on the wire (connection assigned → answer:
 *   the API's own latency at 256 requests in flight) and from issue (request
 *   created → answer: what a caller that sent its start in the burst waited);
 * - peak RSS of each process: the pflow processes' own high-water marks, the
 *   servers' sampled RSS over the run (beside what they held at its start),
 *   and this client's.
 *
 * Run: npm run bench:start-storm   (BENCH_RUNS=10000, BENCH_MODES=embedded,distributed,
 * BENCH_CONNECTIONS=256, BENCH_WARMUP, BENCH_CONCURRENCY: the workers' concurrency, default 32)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { DatabaseSync } from "node:sqlite";
import amqp from "amqplib";
import { MongoClient } from "mongodb";
import { listenerPid, megabytes, peakRss, sampleRss } from "./process-memory.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const MODES = (process.env.BENCH_MODES ?? "embedded,distributed").split(",");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 256);
// Warm-up runs, started together, so that every connection of the pool is open before the burst.
const WARMUP = Number(process.env.BENCH_WARMUP ?? CONNECTIONS);
const MONGO_URL = process.env.PFLOW_TEST_MONGO_ATOMIC_URL ?? "mongodb://127.0.0.1:27018/";
const AMQP_URL = process.env.PFLOW_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const BIN = join(import.meta.dirname, "../cli/pflow.js");
const FINISHED = ["succeeded", "failed", "cancelled", "timed_out"];

const WORKFLOW = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: pair }
spec:
  nodes:
    first: { type: transform, expr: "inputs.n + 1" }
    second: { type: transform, expr: "nodes.first.output * 2" }
`;

/** What a topology needs: its processes, and a count of its finished runs (read from the store directly). */
interface Topology {
  readonly processes: Record<string, ChildProcess>;
  readonly servers: Record<string, number | undefined>;
  finished(): Promise<{ done: number; failed: number }>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

function spawnPflow(args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: ["ignore", "ignore", "inherit"] });
}

async function stopAll(processes: Record<string, ChildProcess>): Promise<void> {
  const alive = Object.values(processes).filter((child) => child.exitCode === null);
  for (const child of alive) child.kill("SIGTERM");
  await Promise.all(alive.map((child) => new Promise((resolve) => child.once("exit", resolve))));
}

async function embedded(dir: string, port: number): Promise<Topology> {
  const file = join(dir, "pflow.db");
  const env = { ...baseEnv(dir), PFLOW_STORE_URL: `sqlite:${file}`, PFLOW_BROKER_URL: "memory:" };
  const processes = {
    "pflow serve (API + workers)": spawnPflow(["serve", "--port", String(port)], env, dir),
  };
  let db: DatabaseSync | undefined;
  return {
    processes,
    servers: {},
    async finished() {
      db ??= new DatabaseSync(file, { readOnly: true });
      const rows = db
        .prepare(
          `SELECT status, count(*) AS n FROM runs WHERE status IN (${FINISHED.map(() => "?").join(",")}) GROUP BY status`,
        )
        .all(...FINISHED) as { status: string; n: number }[];
      return countOf(rows.map((row) => ({ status: row.status, n: Number(row.n) })));
    },
    async close() {
      db?.close();
      await stopAll(processes);
    },
  };
}

async function distributed(dir: string, port: number): Promise<Topology> {
  const id = randomUUID().replaceAll("-", "").slice(0, 12);
  const storeUrl = new URL(MONGO_URL);
  storeUrl.pathname = `/pflow_storm_${id}`;
  const prefix = `pflow-storm-${id}`;
  const env = {
    ...baseEnv(dir),
    PFLOW_STORE_URL: storeUrl.toString(),
    PFLOW_BROKER_URL: AMQP_URL,
    PFLOW_BROKER_PREFIX: prefix,
  };
  const processes: Record<string, ChildProcess> = {
    "pflow serve --no-workers (API)": spawnPflow(["serve", "--no-workers", "--port", String(port)], env, dir),
  };
  await until(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, "the API", 60_000);
  processes["pflow worker 1"] = spawnPflow(["worker"], env, dir);
  processes["pflow worker 2"] = spawnPflow(["worker"], env, dir);
  const client = new MongoClient(storeUrl.toString());
  const runs = client.db().collection("runs");
  return {
    processes,
    servers: {
      "RabbitMQ (beam.smp)": listenerPid(Number(new URL(AMQP_URL).port || 5672)),
      "mongo-java-server (java)": listenerPid(Number(storeUrl.port || 27017)),
    },
    async finished() {
      const rows = await runs
        .aggregate<{ _id: string; n: number }>([
          { $match: { status: { $in: FINISHED } } },
          { $group: { _id: "$status", n: { $sum: 1 } } },
        ])
        .toArray();
      return countOf(rows.map((row) => ({ status: row._id, n: row.n })));
    },
    async close() {
      await stopAll(processes);
      await client.db().dropDatabase();
      await client.close();
      const connection = await amqp.connect(AMQP_URL);
      const channel = await connection.createChannel();
      for (const queue of ["tasks.default", "dead-letters"]) await channel.deleteQueue(`${prefix}.${queue}`);
      await connection.close();
    },
  };
}

function baseEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PFLOW_DEFINITIONS: join(dir, "defs"),
    PFLOW_LOG_LEVEL: "warn",
    PFLOW_RATE_LIMIT: "100000000",
    PFLOW_WORKER_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? "32",
  };
}

function countOf(rows: { status: string; n: number }[]): { done: number; failed: number } {
  let done = 0;
  let failed = 0;
  for (const row of rows) {
    done += row.n;
    if (row.status !== "succeeded") failed += row.n;
  }
  return { done, failed };
}

/** POSTs one start; resolves with its latency from issue and on the wire (ms). */
function startRun(
  agent: http.Agent,
  port: number,
  n: number,
): Promise<{ fromIssue: number; onWire: number }> {
  const issued = performance.now();
  let assigned = issued;
  const body = JSON.stringify({ input: { n } });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/workflows/pair/runs",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const now = performance.now();
          if (response.statusCode !== 202)
            reject(new Error(`start answered ${response.statusCode}: ${Buffer.concat(chunks).toString()}`));
          else resolve({ fromIssue: now - issued, onWire: now - assigned });
        });
      },
    );
    request.on("socket", () => {
      assigned = performance.now();
    });
    request.on("error", reject);
    request.end(body);
  });
}

function quantiles(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return `p50 ${at(0.5).toFixed(0)} ms, p99 ${at(0.99).toFixed(0)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(0)} ms`;
}

async function measure(mode: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pflow-storm-"));
  mkdirSync(join(dir, "defs"));
  writeFileSync(join(dir, "defs", "pair.yaml"), WORKFLOW);
  const port = await freePort();
  const topology = mode === "embedded" ? await embedded(dir, port) : await distributed(dir, port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  try {
    await until(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, "the API", 60_000);
    // Warm-up (connections, JIT, the plan cache), then the burst.
    await Promise.all(Array.from({ length: WARMUP }, (_, n) => startRun(agent, port, n)));
    await until(async () => (await topology.finished()).done === WARMUP, "the warm-up runs", 120_000);

    const pids = Object.fromEntries(
      Object.entries(topology.processes).map(([name, child]) => [name, child.pid]),
    );
    const sampler = sampleRss({ ...topology.servers, ...pids });
    const began = performance.now();
    const latencies = await Promise.all(Array.from({ length: RUNS }, (_, n) => startRun(agent, port, n)));
    const accepted = (performance.now() - began) / 1000;
    let finished = { done: 0, failed: 0 };
    await until(
      async () => {
        finished = await topology.finished();
        if (process.env.BENCH_VERBOSE) console.log(`  ${finished.done - WARMUP}/${RUNS} runs finished`);
        return finished.done >= WARMUP + RUNS;
      },
      "every run to finish",
      1_800_000,
      250,
    );
    const drained = (performance.now() - began) / 1000;
    const sampled = sampler.stop();

    console.log(`${mode}: ${RUNS} runs of a 2-node chain started at once, ${CONNECTIONS} connections`);
    console.log(
      `  accepted in ${accepted.toFixed(1)} s (${(RUNS / accepted).toFixed(0)} starts/s), drained in ${drained.toFixed(1)} s ` +
        `(${(RUNS / drained).toFixed(0)} runs/s, ${((2 * RUNS) / drained).toFixed(0)} node executions/s), ${finished.failed} not succeeded`,
    );
    console.log(`  start latency on the wire: ${quantiles(latencies.map((l) => l.onWire))}`);
    console.log(`  start latency from issue:  ${quantiles(latencies.map((l) => l.fromIssue))}`);
    for (const [name, child] of Object.entries(topology.processes))
      console.log(
        `  peak RSS ${name}: ${megabytes(child.pid === undefined ? undefined : peakRss(child.pid))}`,
      );
    for (const name of Object.keys(topology.servers)) {
      const seen = sampled[name];
      console.log(
        `  peak RSS ${name}: ${seen ? `${megabytes(seen.peak)} (${megabytes(seen.atStart)} at the start)` : "? (not found)"}`,
      );
    }
    console.log(`  peak RSS this client: ${megabytes(process.resourceUsage().maxRSS * 1024)}`);
  } finally {
    agent.destroy();
    await topology.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const mode of MODES) await measure(mode);
