/**
 * What a large definition costs everyone else (issue 15): /healthz latency
 * while POST /v1/validate works on a 7 MB file of 1,000,000 `key: 0` lines
 * (refused at the node limit), alone and three at once; then the largest
 * definition the API accepts: PUT of a 50,000-node layered workflow, with its
 * size, its YAML node count and the time to register it.
 * Before: one such validate blocked the process 19–23 s (/healthz 18–22 s).
 *
 * Run: npm run bench:validation
 */
import { Lexer } from "yaml";
import { embeddedApi } from "./embedded-engine.ts";
import { layeredWorkflow, MODEL } from "./layered-workflow.ts";

const { base, close } = await embeddedApi([{ path: "model.yaml", text: MODEL }]);
const yamlHeaders = { "content-type": "application/yaml" };

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function healthWhile(label: string, work: () => Promise<unknown>): Promise<void> {
  let done = false;
  const started = performance.now();
  const pending = work().finally(() => {
    done = true;
  });
  const latencies: number[] = [];
  while (!done) {
    const t = performance.now();
    await fetch(`${base}/healthz`).then((r) => r.text());
    latencies.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await pending;
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(
    `  ${label.padEnd(34)} ${elapsed.toFixed(1).padStart(5)} s   /healthz (${latencies.length} probes): ` +
      `p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${(latencies.at(-1) ?? 0).toFixed(1)} ms`,
  );
}

const million = "key: 0\n".repeat(1_000_000);
const validate = () =>
  fetch(`${base}/v1/validate`, { method: "POST", headers: yamlHeaders, body: million }).then(async (r) => {
    const body = (await r.json()) as { files: { errors: { code: string; message: string }[] }[] };
    const finding = body.files[0]?.errors[0];
    if (r.status !== 200 || finding?.code !== "yaml-limits") throw new Error(`not refused: ${r.status}`);
  });

console.log("/healthz while definitions are validated (embedded server, one process):");
await healthWhile("1 × 1,000,000-key validate", validate);
await healthWhile("3 × 1,000,000-key validate at once", () =>
  Promise.all([validate(), validate(), validate()]),
);

console.log("The largest definitions accepted (PUT /v1/workflows/{name}):");
for (const nodes of [10_000, 50_000]) {
  const text = layeredWorkflow(nodes);
  let yamlNodes = 0;
  for (const lexeme of new Lexer().lex(text))
    if ("\u001f\"'[{".includes(lexeme[0] ?? "") || lexeme === "-") yamlNodes++;
  const started = performance.now();
  const response = await fetch(`${base}/v1/workflows/layered-${nodes}`, {
    method: "PUT",
    headers: yamlHeaders,
    body: text,
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `  ${String(nodes).padStart(6)} workflow nodes, ${(Buffer.byteLength(text) / 1e6).toFixed(1)} MB, ${yamlNodes.toLocaleString("en-US")} YAML nodes: ` +
      `${response.status} in ${seconds.toFixed(1)} s`,
  );
  await response.text();
}

await close();
