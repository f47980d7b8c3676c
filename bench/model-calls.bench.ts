/**
 * What a model's limits and the usage accounting cost per model call, on the
 * embedded default (SQLite WAL file, in-process broker): a 1,000-wide fan-out
 * of model nodes on a `mock` model with no latency, so what is measured is the
 * engine's work around each call:
 * - plain: no limits (usage and cost recorded, call statistics counted),
 * - rate-limit: requestsPerMinute and tokensPerMinute set too high to bind (a
 *   call slot reserved in the store, tokens charged, per call),
 * - breaker: a circuitBreaker per version (in memory),
 * - both.
 * Each variant runs ROUNDS times, interleaved; the median is reported.
 *
 * Run: npm run bench:models   (BENCH_VARIANTS=plain to run one; on an older
 * commit, plain is the "before" of the accounting)
 */
import { performance } from "node:perf_hooks";
import { embeddedEngine } from "./embedded-engine.ts";

const WIDTH = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LIMITS: Record<string, string> = {
  plain: "",
  "rate-limit": "  rateLimit: { requestsPerMinute: 1000000, tokensPerMinute: 1000000000 }\n",
  breaker: "  circuitBreaker: { failureRatio: 0.5, minCalls: 10 }\n",
  both:
    "  rateLimit: { requestsPerMinute: 1000000, tokensPerMinute: 1000000000 }\n" +
    "  circuitBreaker: { failureRatio: 0.5, minCalls: 10 }\n",
};
const variants = (process.env.BENCH_VARIANTS ?? Object.keys(LIMITS).join(",")).split(",");

const documents = variants.flatMap((variant) => [
  `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: m-${variant} }\nspec:\n${LIMITS[variant]}  versions:\n    "1": { provider: mock, response: { text: "{{ 'n' & input.i }}" } }\n`,
  [
    "apiVersion: pflow/v1",
    "kind: Workflow",
    `metadata: { name: fan-${variant} }`,
    "spec:",
    "  nodes:",
    ...Array.from(
      { length: WIDTH },
      (_, i) => `    n${i}: { type: model, model: m-${variant}, input: { i: ${i} } }`,
    ),
  ].join("\n"),
]);
const { engine, close } = await embeddedEngine(documents.map((text, i) => ({ path: `d${i}.yaml`, text })));

async function microsPerCall(variant: string): Promise<number> {
  const started = performance.now();
  const run = await engine.startRun({ workflow: `fan-${variant}`, input: {} });
  const finished = await engine.waitForRun(run.id, 600_000);
  if (finished?.status !== "succeeded") throw new Error(`fan-${variant} ended ${finished?.status}`);
  return ((performance.now() - started) * 1000) / WIDTH;
}

const samples = new Map<string, number[]>(variants.map((v) => [v, []]));
for (const variant of variants) await microsPerCall(variant); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of variants) samples.get(variant)?.push(await microsPerCall(variant));
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const base = median(samples.get("plain") ?? [Number.NaN]);
console.log(`model calls, ${WIDTH}-wide fan-out of mock calls, embedded default, median of ${ROUNDS}:`);
for (const [variant, values] of samples) {
  const m = median(values);
  const diff = m - base;
  const delta =
    variant === "plain" || Number.isNaN(base)
      ? ""
      : `  (${diff < 0 ? "−" : "+"}${Math.abs(diff).toFixed(0)} µs per call)`;
  console.log(
    `  ${variant.padEnd(15)} ${m.toFixed(0).padStart(5)} µs/call  ${(1e6 / m).toFixed(0).padStart(6)} calls/s${delta}`,
  );
}
await close();
