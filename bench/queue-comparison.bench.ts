/**
 * The embedded default against BullMQ flows on Redis, in the same run, on the
 * same shape (bench/map-runs.ts): BENCH_RUNS runs (500) of a BENCH_ITEMS-item
 * (20) map of no-op transforms, started at once. In BullMQ a run is a flow: a
 * parent job that gathers its children's values, and one child job per item.
 * Both run in this process with the same concurrency (BENCH_CONCURRENCY, 16:
 * the embedded worker's default); Redis is Debian's redis-server, started here
 * on a free loopback port without persistence, and stopped at the end.
 * Each side runs BENCH_ROUNDS times (3), alternating; medians are reported.
 *
 * Run: npm run bench:queues   (needs redis-server on the PATH: apt-get install redis-server)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { FlowProducer, type Job, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import { embeddedEngine } from "./embedded-engine.ts";
import { MAP_RUNS_WORKFLOW, mapRunsBurst } from "./map-runs.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 500);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis(): Promise<{ port: number; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  child.once("error", (error) => {
    throw new Error(`redis-server could not start (apt-get install redis-server): ${error.message}`);
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
    probe.on("error", () => {}); // not listening yet: the connect below says so
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return { port, process: child };
    } catch {
      probe.disconnect();
      await sleep(100);
    }
  }
  throw new Error("redis-server did not answer");
}

/** One burst of BullMQ flows of the same shape: node executions/s (children + parents). */
async function bullmqBurst(port: number, round: number): Promise<number> {
  const connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null };
  const prefix = `bench${round}`;
  const items = new Worker(`${prefix}-items`, async (job: Job) => job.data.item, {
    connection,
    concurrency: CONCURRENCY,
  });
  const runs = new Worker(
    `${prefix}-runs`,
    async (job: Job) => Object.values(await job.getChildrenValues()),
    {
      connection,
      concurrency: CONCURRENCY,
    },
  );
  const events = new QueueEvents(`${prefix}-runs`, { connection });
  await Promise.all([items.waitUntilReady(), runs.waitUntilReady(), events.waitUntilReady()]);
  const flows = new FlowProducer({ connection });
  let completed = 0;
  const all = new Promise<void>((resolve) => {
    events.on("completed", () => {
      if (++completed === RUNS) resolve();
    });
  });
  const started = performance.now();
  await flows.addBulk(
    Array.from({ length: RUNS }, (_, run) => ({
      name: "run",
      queueName: `${prefix}-runs`,
      data: { run },
      children: Array.from({ length: ITEMS }, (_, item) => ({
        name: "item",
        queueName: `${prefix}-items`,
        data: { item },
      })),
    })),
  );
  await all;
  const rate = (RUNS * (ITEMS + 1)) / ((performance.now() - started) / 1000);
  await Promise.all([items.close(), runs.close(), events.close(), flows.close()]);
  return rate;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const redis = await startRedis();
const { engine, close } = await embeddedEngine([{ path: "map-run.yaml", text: MAP_RUNS_WORKFLOW }]);
try {
  await mapRunsBurst(engine, 20, ITEMS); // warm-up
  await bullmqBurst(redis.port, 0);
  const pflow: number[] = [];
  const bullmq: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    pflow.push(await mapRunsBurst(engine, RUNS, ITEMS));
    bullmq.push(await bullmqBurst(redis.port, round));
  }
  const show = (rates: number[]) => rates.map((rate) => rate.toFixed(0)).join(", ");
  console.log(
    `${RUNS} runs × ${ITEMS}-item map of no-op transforms, started at once, concurrency ${CONCURRENCY}:`,
  );
  console.log(
    `  pflow embedded (SQLite WAL + in-process): ${median(pflow).toFixed(0)} node executions/s (${show(pflow)})`,
  );
  console.log(
    `  BullMQ flows on Redis:                    ${median(bullmq).toFixed(0)} node executions/s (${show(bullmq)})`,
  );
  console.log(
    `  ratio pflow / BullMQ: ${(median(pflow) / median(bullmq)).toFixed(2)}× (medians of ${ROUNDS})`,
  );
} finally {
  await close();
  redis.process.kill("SIGTERM");
}
