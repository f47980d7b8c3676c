/**
 * BullMQ flows on Redis, the queue the embedded default is compared with
 * (issue 12 §4), on the shape of bench/map-runs.ts: a run is a flow, a parent
 * job that gathers its children's values, and one child job per item. Redis is
 * Debian's redis-server, started on a free loopback port without persistence.
 * Used by bench/queue-comparison.bench.ts and bench/engine.bench.ts.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { FlowProducer, type Job, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Engine } from "../engine/engine.ts";
import { mapRunsBurst } from "./map-runs.ts";

/** Whether Debian's redis-server is on the PATH (apt-get install redis-server). */
export function redisInstalled(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * CPU time (µs) used so far by this process (every thread: the SQLite
 * checkpointer's too) and by Redis, from /proc (Linux; clock ticks of 10 ms).
 * A machine shared with other work stretches wall time far more than CPU time,
 * so CPU per node execution is the steadier figure of the two.
 */
function cpuMicros(redisPid: number | undefined): { self: number; redis: number } {
  const usage = process.cpuUsage();
  let redis = 0;
  if (redisPid !== undefined) {
    try {
      // Fields 14 and 15 (utime, stime), counted after the ")" that ends the command name.
      const fields = readFileSync(`/proc/${redisPid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      redis = (Number(fields[11]) + Number(fields[12])) * 10_000;
    } catch {
      redis = Number.NaN; // no /proc: not measured
    }
  }
  return { self: usage.user + usage.system, redis };
}

/** Runs `burst` and measures its rate and its CPU per node execution (this process, and Redis). */
async function measured(
  burst: () => Promise<number>,
  executions: number,
  redisPid?: number,
): Promise<{ rate: number; cpuPerExecution: number }> {
  const before = cpuMicros(redisPid);
  const rate = await burst();
  const after = cpuMicros(redisPid);
  const cpu = after.self - before.self + (after.redis - before.redis);
  return { rate, cpuPerExecution: cpu / executions };
}

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

/** One burst of BullMQ flows of the shape: node executions/s (children + parents). */
async function bullmqBurst(
  port: number,
  round: number,
  shape: { runs: number; items: number; concurrency: number },
): Promise<number> {
  const connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null };
  const prefix = `bench${round}`;
  const items = new Worker(`${prefix}-items`, async (job: Job) => job.data.item, {
    connection,
    concurrency: shape.concurrency,
  });
  const runs = new Worker(
    `${prefix}-runs`,
    async (job: Job) => Object.values(await job.getChildrenValues()),
    {
      connection,
      concurrency: shape.concurrency,
    },
  );
  const events = new QueueEvents(`${prefix}-runs`, { connection });
  await Promise.all([items.waitUntilReady(), runs.waitUntilReady(), events.waitUntilReady()]);
  const flows = new FlowProducer({ connection });
  let completed = 0;
  const all = new Promise<void>((resolve) => {
    events.on("completed", () => {
      if (++completed === shape.runs) resolve();
    });
  });
  const started = performance.now();
  await flows.addBulk(
    Array.from({ length: shape.runs }, (_, run) => ({
      name: "run",
      queueName: `${prefix}-runs`,
      data: { run },
      children: Array.from({ length: shape.items }, (_, item) => ({
        name: "item",
        queueName: `${prefix}-items`,
        data: { item },
      })),
    })),
  );
  await all;
  const rate = (shape.runs * (shape.items + 1)) / ((performance.now() - started) / 1000);
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

/**
 * The comparison in one run: `rounds` bursts of each side of the same shape,
 * alternating (after a warm-up of each), printed with their medians and ratio.
 * `engine` has bench/map-runs.ts's workflow registered. Starts and stops its Redis.
 */
export async function compareWithBullmq(
  engine: Engine,
  shape: { runs: number; items: number; concurrency: number },
  rounds: number,
): Promise<{ pflow: number; bullmq: number }> {
  const redis = await startRedis();
  try {
    await mapRunsBurst(engine, 20, shape.items);
    await bullmqBurst(redis.port, 0, shape);
    const executions = shape.runs * (shape.items + 1);
    const pflowRounds: { rate: number; cpuPerExecution: number }[] = [];
    const bullmqRounds: { rate: number; cpuPerExecution: number }[] = [];
    for (let round = 1; round <= rounds; round++) {
      pflowRounds.push(await measured(() => mapRunsBurst(engine, shape.runs, shape.items), executions));
      bullmqRounds.push(
        await measured(() => bullmqBurst(redis.port, round, shape), executions, redis.process.pid),
      );
    }
    const pflow = pflowRounds.map((r) => r.rate);
    const bullmq = bullmqRounds.map((r) => r.rate);
    const pflowCpu = median(pflowRounds.map((r) => r.cpuPerExecution));
    const bullmqCpu = median(bullmqRounds.map((r) => r.cpuPerExecution));
    const show = (rates: number[]) => rates.map((rate) => rate.toFixed(0)).join(", ");
    console.log(
      `${shape.runs} runs × ${shape.items}-item map of no-op transforms, started at once, concurrency ${shape.concurrency}:`,
    );
    console.log(
      `  pflow embedded (SQLite WAL + in-process): ${median(pflow).toFixed(0)} node executions/s (${show(pflow)})`,
    );
    console.log(
      `  BullMQ flows on Redis:                    ${median(bullmq).toFixed(0)} node executions/s (${show(bullmq)})`,
    );
    console.log(
      `  ratio pflow / BullMQ: ${(median(pflow) / median(bullmq)).toFixed(2)}× (medians of ${rounds})`,
    );
    console.log(
      `  CPU per node execution: pflow ${pflowCpu.toFixed(0)} µs (its process, every thread), ` +
        `BullMQ ${bullmqCpu.toFixed(0)} µs (its process and Redis's): ` +
        `pflow does a node execution on ${(bullmqCpu / pflowCpu).toFixed(2)}× less CPU`,
    );
    return { pflow: median(pflow), bullmq: median(bullmq) };
  } finally {
    redis.process.kill("SIGTERM");
  }
}
