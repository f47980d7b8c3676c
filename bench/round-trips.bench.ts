/**
 * Where the time of a distributed run goes: the store round trips per node
 * execution, counted by the MongoDB driver's command monitoring, for runs of
 * the distributed benchmark's workflow (root → 8 → join) in one process on
 * the MongoDB-wire server (scripts/services.sh), with the in-process broker
 * (RabbitMQ adds one confirmed publish per batch of ready nodes, and one ack
 * per node).
 *
 * Two loads: runs one after another (each run's own batching only: what a
 * lone run costs), then BENCH_IN_FLIGHT runs at once (24 by default, as
 * bench:distributed starts them), where one command serves the claims,
 * finishes and reads of several runs.
 *
 * Run: node bench/round-trips.bench.ts   (BENCH_RUNS, BENCH_IN_FLIGHT; BENCH_TRACE=1 lists the commands of one run)
 */
import { randomUUID } from "node:crypto";
import { MongoClient } from "mongodb";
import pino from "pino";
import { validateDefinitions } from "../compiler/index.ts";
import { createEngine } from "../engine/create.ts";
import { FAN_WORKFLOW, NODES } from "./fan-workflow.ts";

// The atomic MongoDB-wire server (mongo-java-server), where the store runs as on
// MongoDB; BENCH_MONGO_URL points elsewhere (FerretDB's URL measures its locked mode).
const MONGO_URL =
  process.env.BENCH_MONGO_URL ?? process.env.PFLOW_TEST_MONGO_ATOMIC_URL ?? "mongodb://127.0.0.1:27018/";
const RUNS = Number(process.env.BENCH_RUNS ?? 48);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 24);
const TRACE = process.env.BENCH_TRACE === "1";

const set = validateDefinitions([{ path: "fan.yaml", text: FAN_WORKFLOW }]);
if (!set.valid) throw new Error("bench definitions are invalid");

const database = `pflow_rt_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const url = new URL(MONGO_URL);
url.pathname = `/${database}`;
url.searchParams.set("monitorCommands", "true");

// Every command a client sends, by name: the driver emits commandStarted on
// clients created with monitorCommands; MongoClient.prototype.connect is
// wrapped to listen on the store's own client.
const counts = new Map<string, number>();
let counting = false;
const connect = MongoClient.prototype.connect;
MongoClient.prototype.connect = function (this: MongoClient) {
  this.on("commandStarted", (event) => {
    if (!counting) return;
    counts.set(event.commandName, (counts.get(event.commandName) ?? 0) + 1);
    if (TRACE) {
      const command = event.command as Record<string, unknown>;
      const many = ["documents", "updates", "deletes"].map((field) => command[field]).find(Array.isArray);
      console.log(
        `  ${event.commandName} ${String(command[event.commandName])}${many ? ` ×${many.length}` : ""}`,
      );
    }
  });
  return connect.call(this);
};

const { engine, close } = await createEngine({
  storeUrl: url.toString(),
  brokerUrl: "memory:",
  logger: pino({ level: "silent" }),
  config: { sweepIntervalMs: 3_600_000 },
});
try {
  await engine.services.catalog.register(set, Date.now());
  await engine.start();
  const warm = await engine.startRun({ workflow: "fan", input: { n: 0 } });
  await engine.waitForRun(warm.id, 60_000);
  const one = async (n: number) => {
    const run = await engine.startRun({ workflow: "fan", input: { n } });
    const finished = await engine.waitForRun(run.id, 60_000);
    if (finished?.status !== "succeeded") throw new Error(`run ended ${finished?.status}`);
  };
  const measure = async (label: string, runs: number, inFlight: number) => {
    counts.clear();
    counting = true;
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < runs) await one(next++);
      }),
    );
    counting = false;
    const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
    const perNode = (n: number) => (n / (runs * NODES)).toFixed(2);
    console.log(`  ${label}: ${perNode(total)} per node`);
    for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1]))
      console.log(`    ${name.padEnd(16)} ${perNode(n)}`);
  };
  console.log(`store round trips per node execution, runs × ${NODES} nodes, ${MONGO_URL}:`);
  if (TRACE) await measure("one run, its commands in order", 1, 1);
  else {
    await measure(`${RUNS} runs one after another`, RUNS, 1);
    await measure(`${RUNS} runs, ${IN_FLIGHT} at once`, RUNS, IN_FLIGHT);
  }
  console.log("  (waitForRun's own reads are included in find)");
} finally {
  await close();
  const client = new MongoClient(MONGO_URL);
  await client.db(database).dropDatabase();
  await client.close();
}
