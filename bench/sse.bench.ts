/**
 * Event streams at scale: SSE clients following live runs on one API process
 * (the embedded default: SQLite WAL file, in-process broker, workers in the
 * same process), first 100 clients (one per run), then 1,000 (ten per run),
 * on 100 live runs. Reports, over a steady window, the history reads the
 * streams make (Store.listHistory calls per second), every store call per
 * second (the workers' included), the API process's CPU, and the events the
 * clients received. The goal: history reads independent of the number of
 * clients (one follower per open run per process).
 *
 * The clients run in a child process, so their parsing is not counted as the
 * API's CPU.
 *
 * Run: node bench/sse.bench.ts   (BENCH_SECONDS: the measured window, default 8)
 */
import { fork } from "node:child_process";
import http from "node:http";
import type { Engine } from "../engine/engine.ts";
import type { Store } from "../engine/store/store.ts";
import { embeddedApi } from "./embedded-engine.ts";

const KEY = "bench-admin-key-0123456789abcdef";
const RUNS = 100;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

if (process.argv[2] === "clients") {
  // Child: open the connections, count the events, report when told to stop.
  const [, , , base, perRun, ...runIds] = process.argv as string[];
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  let events = 0;
  let open = 0;
  for (const runId of runIds)
    for (let i = 0; i < Number(perRun); i++) {
      http
        .get(
          `${base}/v1/runs/${runId}/events`,
          { agent, headers: { authorization: `Bearer ${KEY}` } },
          (res) => {
            open++;
            if (open === runIds.length * Number(perRun)) process.send?.({ open });
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              events += chunk.split("\nid: ").length - 1 + (chunk.startsWith("id: ") ? 1 : 0);
            });
          },
        )
        .on("error", () => {});
    }
  process.on("message", (message: { count?: boolean }) => {
    if (message.count) process.send?.({ events });
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const files = [
    {
      path: "slow.yaml",
      text: `apiVersion: pflow/v1
kind: Model
metadata: { name: slow }
spec:
  versions:
    "1": { provider: mock, response: { ok: true }, latency: 300ms }
`,
    },
    {
      path: "live.yaml",
      text: `apiVersion: pflow/v1
kind: Workflow
metadata: { name: live }
spec:
  nodes:
${Array.from({ length: 60 }, (_, i) => `    n${i}: { type: model, model: slow${i === 0 ? "" : `, needs: [n${i - 1}]`} }`).join("\n")}
`,
    },
  ];
  let calls: Record<string, number> = {};
  const { engine, base, close } = await embeddedApi(files, {
    keys: `${KEY}:admin`,
    beforeStart: (started: Engine) => {
      calls = countCalls(started.services.store);
    },
  });
  console.log(
    `SSE: ${RUNS} live runs (60 model nodes of 300 ms in a chain) on one API process, embedded default; ` +
      `${SECONDS} s measured after the clients connected:`,
  );
  try {
    for (const perRun of [1, 10]) {
      const runIds: string[] = [];
      for (let i = 0; i < RUNS; i++) runIds.push((await engine.startRun({ workflow: "live", input: {} })).id);
      const child = fork(import.meta.filename, ["clients", base, String(perRun), ...runIds], {
        stdio: "inherit",
      });
      await new Promise<void>((resolve) => child.once("message", () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const before = { calls: { ...calls }, cpu: process.cpuUsage(), at: performance.now() };
      const eventsBefore = await ask(child);
      await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000));
      const seconds = (performance.now() - before.at) / 1_000;
      const cpu = process.cpuUsage(before.cpu);
      const events = (await ask(child)) - eventsBefore;
      const delta = (name: string) => ((calls[name] ?? 0) - (before.calls[name] ?? 0)) / seconds;
      const all = Object.keys(calls).reduce((sum, name) => sum + delta(name), 0);
      console.log(
        `  ${String(RUNS * perRun).padStart(5)} clients: history reads ${delta("listHistory").toFixed(0).padStart(4)}/s, ` +
          `every store call ${all.toFixed(0).padStart(5)}/s, API process CPU ` +
          `${(((cpu.user + cpu.system) / 1_000 / (seconds * 1_000)) * 100).toFixed(0)}% of a core, ` +
          `events delivered ${(events / seconds).toFixed(0)}/s`,
      );
      child.kill();
      for (const runId of runIds) await engine.runner.cancelRun(runId);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await close();
  }
}

/** Counts the calls to each method of the store (patched on the instance). */
function countCalls(store: Store): Record<string, number> {
  const counts: Record<string, number> = {};
  const target = store as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    const method = target[name];
    if (name === "constructor" || typeof method !== "function") continue;
    target[name] = (...args: unknown[]) => {
      counts[name] = (counts[name] ?? 0) + 1;
      return (method as (...a: unknown[]) => unknown).apply(store, args);
    };
  }
  return counts;
}

function ask(child: ReturnType<typeof fork>): Promise<number> {
  return new Promise((resolve) => {
    child.once("message", (message: { events?: number }) => resolve(message.events ?? 0));
    child.send({ count: true });
  });
}
