/**
 * What waiting costs, on the embedded default (SQLite file in WAL mode,
 * in-process broker):
 * - N runs parked at a signal wait: how long to park them, and the heap they
 *   leave (after GC) compared with before: a waiting run should hold nothing
 *   in the process;
 * - N signals, one per run: delivery throughput (signals/s, to the run's end);
 * - N timers due at once: from the due time until every one has fired (the
 *   sweeper fires up to 100 per pass, each pass once a second by default).
 *
 * Run: npm run bench:waits   (BENCH_WAITS=N, default 2000)
 */
import { performance } from "node:perf_hooks";
import { embeddedEngine } from "./embedded-engine.ts";

const N = Number(process.env.BENCH_WAITS ?? 2000);
const DEFINITIONS = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: parked }
spec:
  nodes:
    docs: { type: wait, signal: go }
    after: { type: transform, expr: "nodes.docs.output.n" }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: timed }
spec:
  nodes:
    pause: { type: wait, until: "{{ inputs.at }}" }
`;

const { engine, close } = await embeddedEngine([{ path: "waits.yaml", text: DEFINITIONS }]);
const { store } = engine.services;
const gc = (globalThis as { gc?: () => void }).gc;

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function heapMb(): number {
  gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function waitingCount(): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof store.waits.listWaiting>> = await store.waits.listWaiting({
      kind: "signal",
      limit: 500,
      cursor,
    });
    count += page.items.length;
    cursor = page.next;
  } while (cursor !== null);
  return count;
}

const heapBefore = heapMb();
let start = performance.now();
const ids: string[] = [];
for (let i = 0; i < N; i++) ids.push((await engine.startRun({ workflow: "parked", input: {} })).id);
await until("every run to wait", async () => (await waitingCount()) === N);
const parkMs = performance.now() - start;
const heapParked = heapMb();
const activity = engine.activity;

start = performance.now();
for (const [i, runId] of ids.entries()) await engine.signal({ runId, name: "go", data: { n: i } });
const last = ids.at(-1) as string;
await until("the last run to end", async () => (await store.getRun(last))?.status === "succeeded");
const signalMs = performance.now() - start;

const at = Date.now() + 3_000;
const timed: string[] = [];
for (let i = 0; i < N; i++)
  timed.push((await engine.startRun({ workflow: "timed", input: { at: new Date(at).toISOString() } })).id);
await until("every timer to fire", async () => {
  const runs = await Promise.all(timed.slice(-50).map((id) => store.getRun(id)));
  return runs.every((run) => run?.status === "succeeded");
});
const allFired = await Promise.all(timed.map((id) => store.getRun(id)));
const firedMs = Date.now() - at;

console.log(
  JSON.stringify(
    {
      runs: N,
      parkSeconds: +(parkMs / 1000).toFixed(2),
      parkedPerSecond: Math.round(N / (parkMs / 1000)),
      heapMbBefore: +heapBefore.toFixed(1),
      heapMbWithAllParked: +heapParked.toFixed(1),
      heapKbPerParkedRun: +(((heapParked - heapBefore) * 1024) / N).toFixed(2),
      workerSlotsBusyWhileParked: activity.slotsBusy,
      leasesHeldWhileParked: activity.leasesHeld,
      signalsPerSecond: Math.round(N / (signalMs / 1000)),
      timersDueAtOnce: N,
      allTimersFiredWithinSeconds: +(firedMs / 1000).toFixed(2),
      timersSucceeded: allFired.filter((run) => run?.status === "succeeded").length,
      gc: gc !== undefined,
    },
    null,
    2,
  ),
);
await close();
