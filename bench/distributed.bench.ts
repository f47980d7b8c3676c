/**
 * The production topology on one machine: one API process (`pflow serve
 * --no-workers`) and two `pflow worker` processes, on RabbitMQ and the
 * MongoDB-wire server (scripts/services.sh starts both). Three phases, each
 * after a warm-up (issue 12 §3):
 *
 * 1. latency: runs of a small fan-out workflow of no-op transforms (root → 8
 *    → join: 10 nodes), BENCH_IN_FLIGHT (24) of them in flight at any time
 *    (a run is started when one finishes): trigger to first dispatch, trigger
 *    to first claim, run latency;
 * 2. fan throughput: BENCH_RUNS of the same runs started as fast as
 *    BENCH_IN_FLIGHT concurrent requests go: node executions/s;
 * 3. map throughput: BENCH_MAP_RUNS (100) runs of one 20-item map of no-op
 *    transforms (21 node executions each), started the same way.
 *
 * Reports, per phase, each process's CPU share (per cent of one core over the
 * phase: the API, the two workers, mongo-java-server, RabbitMQ, this bench).
 * - trigger to first dispatch: the API's time from receiving the start request
 *   to answering it, by which point the run is stored and its root node's task
 *   confirmed by RabbitMQ (measured by the client, so an upper bound);
 * - trigger to first claim: from the run's creation to its root node being
 *   claimed by a worker (both times stamped by the processes themselves);
 * - run latency: creation to finish, per run (stamped by the processes).
 *
 * Run: node bench/distributed.bench.ts   (BENCH_RUNS, BENCH_MAP_RUNS,
 * BENCH_LATENCY_RUNS, BENCH_IN_FLIGHT to vary; BENCH_PHASES=latency,fan,map
 * to choose; BENCH_CPU_PROF=DIR writes each pflow process's --cpu-prof there)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import amqp from "amqplib";
import { MongoClient } from "mongodb";
import { MongoStore } from "../engine/store/mongo/mongo-store.ts";
import { FAN_WORKFLOW, NODES } from "./fan-workflow.ts";
import { MAP_RUNS_WORKFLOW } from "./map-runs.ts";

// The atomic MongoDB-wire server (mongo-java-server), where the store runs as on
// MongoDB; BENCH_MONGO_URL points elsewhere (FerretDB's URL measures its locked mode).
// BENCH_MONGO=memory starts a mongo-java-server of its own on the library's
// memory backend (the launcher scripts/services.sh built, without its H2
// file): the same atomic server, without the file writes that make up much of
// its cost per document (see docs/operations.md).
const SERVICES_DIR = process.env.PFLOW_SERVICES_DIR ?? "/var/tmp/pflow-services";
const memoryServer = process.env.BENCH_MONGO === "memory" ? await startMemoryServer() : null;
const MONGO_URL =
  memoryServer?.url ??
  process.env.BENCH_MONGO_URL ??
  process.env.PFLOW_TEST_MONGO_ATOMIC_URL ??
  "mongodb://127.0.0.1:27018/";
const AMQP_URL = process.env.PFLOW_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const RUNS = Number(process.env.BENCH_RUNS ?? 300);
const MAP_RUNS = Number(process.env.BENCH_MAP_RUNS ?? 100);
const MAP_ITEMS = 20;
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 120);
const PHASES = new Set((process.env.BENCH_PHASES ?? "latency,fan,map").split(","));
const CPU_PROF = process.env.BENCH_CPU_PROF;
const TICKS_PER_S = 100; // USER_HZ: /proc/PID/stat counts CPU time in these
const cpus = availableParallelism();
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 24);
const BIN = join(import.meta.dirname, "../cli/pflow.js");

const id = randomUUID().replaceAll("-", "").slice(0, 12);
const database = `pflow_bench_${id}`;
const dir = mkdtempSync(join(tmpdir(), "pflow-distributed-"));
mkdirSync(join(dir, "defs"));
writeFileSync(join(dir, "defs", "fan.yaml"), FAN_WORKFLOW);
writeFileSync(join(dir, "defs", "map-run.yaml"), MAP_RUNS_WORKFLOW);
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
  const profile = CPU_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF}`, `--cpu-prof-name=${args[0]}-${children.length}.cpuprofile`]
    : [];
  const child = spawn(process.execPath, [...profile, BIN, ...args], {
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

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const store = new MongoStore(storeUrl.toString());
const benchClient = new MongoClient(storeUrl.toString());
const runs = benchClient.db(database).collection<{ _id: string; status: string; error: unknown }>("runs");
try {
  start(["serve", "--no-workers", "--port", String(port)]);
  await until(async () => (await fetch(`${base}/readyz`)).ok, "the API");
  start(["worker"]);
  start(["worker"]);
  await store.start();
  await benchClient.connect();

  async function startRun(workflow: string, input: unknown): Promise<{ id: string; ms: number }> {
    const began = performance.now();
    const response = await fetch(`${base}/v1/workflows/${workflow}/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input }),
    });
    if (response.status !== 202) throw new Error(`start: ${response.status} ${await response.text()}`);
    const { id: runId } = (await response.json()) as { id: string };
    return { id: runId, ms: performance.now() - began };
  }

  /** Starts `count` runs with IN_FLIGHT requests at a time, and waits for them all: open loop. */
  async function burst(
    workflow: string,
    count: number,
    input: (n: number) => unknown,
  ): Promise<{ ids: string[]; startMs: number[]; seconds: number }> {
    const ids: string[] = [];
    const startMs: number[] = [];
    const began = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(IN_FLIGHT, count) }, async () => {
        while (next < count) {
          const started = await startRun(workflow, input(next++));
          ids.push(started.id);
          startMs.push(started.ms);
        }
      }),
    );
    // Polled in one query twice a second: the benchmark's own reads must not
    // be a load on the store it measures.
    await until(async () => (await unfinished(ids)).length === 0, "every run to finish", 600_000, 500);
    return { ids, startMs, seconds: (performance.now() - began) / 1000 };
  }

  /**
   * Keeps IN_FLIGHT runs in flight (one started as one finishes) until
   * `count` have run: closed loop. Finished runs are found by one query of
   * the in-flight ones every 20 ms, which only delays the next start.
   */
  async function steady(count: number): Promise<{ ids: string[]; startMs: number[] }> {
    const ids: string[] = [];
    const startMs: number[] = [];
    const inFlight = new Set<string>();
    let started = 0;
    const fill = async () => {
      const starting: Promise<void>[] = [];
      while (started < count && inFlight.size + starting.length < IN_FLIGHT) {
        const n = started++;
        starting.push(
          startRun("fan", { n }).then((run) => {
            ids.push(run.id);
            startMs.push(run.ms);
            inFlight.add(run.id);
          }),
        );
      }
      await Promise.all(starting);
    };
    await fill();
    while (inFlight.size > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const open = new Set(await unfinished([...inFlight]));
      for (const id of inFlight) if (!open.has(id)) inFlight.delete(id);
      await fill();
    }
    return { ids, startMs };
  }

  /** The runs of `ids` not yet finished; throws on one that failed. */
  async function unfinished(ids: readonly string[]): Promise<string[]> {
    const docs = await runs
      .find({ _id: { $in: [...ids] } }, { projection: { status: 1, error: 1 } })
      .toArray();
    const failed = docs.find((doc) => doc.status === "failed");
    if (failed) throw new Error(`run ${failed._id} failed: ${JSON.stringify(failed.error)}`);
    return docs.filter((doc) => doc.status !== "succeeded").map((doc) => doc._id);
  }

  async function latencies(ids: readonly string[]): Promise<{ firstClaim: number[]; runLatency: number[] }> {
    const firstClaim: number[] = [];
    const runLatency: number[] = [];
    for (const runId of ids) {
      const run = await store.getRun(runId);
      const root = await store.getExecution(`${runId}/root`);
      if (run && root?.startedAt) firstClaim.push(root.startedAt - run.createdAt);
      if (run?.finishedAt) runLatency.push(run.finishedAt - run.createdAt);
    }
    return { firstClaim, runLatency };
  }

  const processes = {
    api: children[0]?.pid,
    "worker 1": children[1]?.pid,
    "worker 2": children[2]?.pid,
    "mongo-java-server": memoryServer?.process.pid ?? serverPid(),
    RabbitMQ: rabbitPid(),
    bench: process.pid,
  };
  /** Runs `phase`, then prints each process's CPU share over it. */
  async function measured<T>(phase: () => Promise<T>): Promise<T> {
    const before = cpuTimes(processes);
    const began = performance.now();
    const result = await phase();
    const seconds = (performance.now() - began) / 1000;
    const after = cpuTimes(processes);
    const shares = Object.entries(after).map(([name, ticks]) => {
      const used =
        ticks === null || before[name] == null ? null : (ticks - (before[name] as number)) / TICKS_PER_S;
      return `${name} ${used === null ? "?" : `${Math.round((100 * used) / seconds)}%`}`;
    });
    console.log(`  CPU (per cent of one core, ${cpus} cores): ${shares.join(", ")}`);
    return result;
  }

  console.log(
    `distributed: 1 API + 2 workers, RabbitMQ ${AMQP_URL.replace(/\/\/.*@/, "//")} + MongoDB-wire ${MONGO_URL}`,
  );
  await burst("fan", Number(process.env.BENCH_WARMUP ?? 50), (n) => ({ n })); // warm-up: connections, caches, JIT
  if (PHASES.has("latency")) {
    console.log(
      `  latency: ${LATENCY_RUNS} runs × ${NODES} nodes, ${IN_FLIGHT} runs in flight (load ${loadavg()})`,
    );
    const { ids, startMs } = await measured(() => steady(LATENCY_RUNS));
    const { firstClaim, runLatency } = await latencies(ids);
    console.log(`    trigger to first dispatch (POST answered, root task confirmed): ${summary(startMs)}`);
    console.log(
      `    trigger to first claim (run created → root claimed by a worker): ${summary(firstClaim)}`,
    );
    console.log(`    run latency (created → finished): ${summary(runLatency)}`);
  }
  if (PHASES.has("fan")) {
    console.log(
      `  fan throughput: ${RUNS} runs × ${NODES} nodes, ${IN_FLIGHT} starts in flight (load ${loadavg()})`,
    );
    const { ids, startMs, seconds } = await measured(() => burst("fan", RUNS, (n) => ({ n })));
    const executions = RUNS * NODES;
    console.log(
      `    ${executions} node executions in ${seconds.toFixed(2)} s = ${(executions / seconds).toFixed(0)} node executions/s (${(RUNS / seconds).toFixed(0)} runs/s)`,
    );
    const { runLatency } = await latencies(ids);
    console.log(`    trigger to first dispatch: ${summary(startMs)}; run latency: ${summary(runLatency)}`);
  }
  if (PHASES.has("map")) {
    console.log(
      `  map throughput: ${MAP_RUNS} runs × one ${MAP_ITEMS}-item map (${MAP_ITEMS + 1} node executions each), ${IN_FLIGHT} starts in flight (load ${loadavg()})`,
    );
    const values = Array.from({ length: MAP_ITEMS }, (_, index) => index);
    const { seconds } = await measured(() => burst("map-run", MAP_RUNS, () => ({ values })));
    const executions = MAP_RUNS * (MAP_ITEMS + 1);
    console.log(
      `    ${executions} node executions in ${seconds.toFixed(2)} s = ${(executions / seconds).toFixed(0)} node executions/s`,
    );
  }
} finally {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => new Promise((resolve) => child.once("exit", resolve))));
  await store.close();
  await benchClient.close();
  const client = new MongoClient(MONGO_URL);
  await client.db(database).dropDatabase();
  await client.close();
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  for (const queue of ["tasks.default", "dead-letters"])
    await channel.deleteQueue(`pflow-bench-${id}.${queue}`);
  await connection.close();
  rmSync(dir, { recursive: true, force: true });
  memoryServer?.process.kill("SIGTERM");
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return `p50 ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms`;
}

function loadavg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** User + system CPU time of each process so far, in ticks (null: not found). */
function cpuTimes(processes: Record<string, number | undefined>): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(processes).map(([name, pid]) => {
      if (pid === undefined) return [name, null];
      try {
        // The fields after the command name (which may hold spaces), from the closing parenthesis on.
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
        return [name, Number(fields[11]) + Number(fields[12])];
      } catch {
        return [name, null];
      }
    }),
  );
}

/** mongo-java-server's process, from the pid file scripts/services.sh writes. */
function serverPid(): number | undefined {
  const file = join(process.env.PFLOW_SERVICES_DIR ?? "/var/tmp/pflow-services", "mongo-java-server.pid");
  return existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : undefined;
}

/** The RabbitMQ node's Erlang VM: the beam process started for the broker's port (scripts/services.sh). */
function rabbitPid(): number | undefined {
  const port = new URL(AMQP_URL).port || "5672";
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("beam")) continue;
      const environment = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environment.includes(`RABBITMQ_NODE_PORT=${port}`)) return Number(entry);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function startMemoryServer(): Promise<{ url: string; process: ChildProcess }> {
  const home = join(SERVICES_DIR, "mongo-java-server");
  const serverPort = await freePort();
  const server = spawn(
    "java",
    [
      "-Xmx1g",
      "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
      "-cp",
      `${home}/classes:${home}/lib/*`,
      "AtomicMongoServer",
      String(serverPort),
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `mongodb://127.0.0.1:${serverPort}/`;
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 30_000 });
  await client.connect();
  await client.close();
  return { url, process: server };
}
