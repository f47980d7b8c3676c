/**
 * Where the time of a distributed run goes: the store round trips per node
 * execution, counted by the MongoDB driver's command monitoring, for runs of
 * the distributed benchmark's workflow (root → 8 → join) in one process on
 * the MongoDB-wire server (scripts/services.sh), with the in-process broker
 * (RabbitMQ adds one confirmed publish per batch of ready nodes, and one ack
 * per node).
 *
 * Run: node bench/round-trips.bench.ts
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
const RUNS = Number(process.env.BENCH_RUNS ?? 20);

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
    if (counting) counts.set(event.commandName, (counts.get(event.commandName) ?? 0) + 1);
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
  counting = true;
  for (let i = 0; i < RUNS; i++) {
    const run = await engine.startRun({ workflow: "fan", input: { n: i } });
    const finished = await engine.waitForRun(run.id, 60_000);
    if (finished?.status !== "succeeded") throw new Error(`run ended ${finished?.status}`);
  }
  counting = false;
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const perNode = (n: number) => (n / (RUNS * NODES)).toFixed(2);
  console.log(`store round trips per node execution, ${RUNS} runs × ${NODES} nodes, ${MONGO_URL}:`);
  console.log(`  all commands: ${perNode(total)} per node`);
  for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1]))
    console.log(`  ${name.padEnd(16)} ${perNode(n)}`);
  console.log("  (waitForRun's own polling reads are included in find)");
} finally {
  await close();
  const client = new MongoClient(MONGO_URL);
  await client.db(database).dropDatabase();
  await client.close();
}
