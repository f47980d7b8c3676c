/**
 * validate + compile throughput: layered workflows of 1,000 / 10,000 / 50,000
 * nodes (20 nodes a layer, each reading two nodes of the layer before, a mix of
 * model, preprocess and transform nodes), from YAML text to ExecutionPlan.
 * Target (docs/architecture): 10,000 nodes under 1 s; 10× nodes ≤ 12× time.
 * Also: how fast YAML bombs of a megabyte are refused, and `pflow validate`
 * as CI runs it, a fresh process (start-up included) for one small file and
 * for a 10,000-node workflow (cli-startup.ts; targets 250 ms and 500 ms).
 *
 * Run: npm run bench
 */
import { performance } from "node:perf_hooks";
import { DEFAULT_YAML_LIMITS, validateDefinitions } from "../compiler/index.ts";
import { cliStartup, startupReport } from "./cli-startup.ts";
import { layeredWorkflow, MODEL } from "./layered-workflow.ts";

function timeMs(run: () => void, repeat: number): number {
  const samples: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)] as number;
}

function validateOnce(text: string, expectValid: boolean): void {
  // As `pflow validate` does: no sources kept for a registry.
  const set = validateDefinitions(
    [
      { path: "flow.yaml", text },
      { path: "model.yaml", text: MODEL },
    ],
    { limits: { ...DEFAULT_YAML_LIMITS, maxBytes: 64 * 1024 * 1024 }, sources: false },
  );
  if (set.valid !== expectValid)
    throw new Error(JSON.stringify(set.files.flatMap((f) => f.errors).slice(0, 3)));
}

// Warm up the JIT and the schema compilation once.
validateOnce(layeredWorkflow(200), true);

const rows: { nodes: number; ms: number; mb: number }[] = [];
for (const nodes of [1_000, 10_000, 50_000]) {
  const text = layeredWorkflow(nodes);
  const ms = timeMs(() => validateOnce(text, true), nodes >= 50_000 ? 3 : 5);
  rows.push({ nodes, ms, mb: Buffer.byteLength(text) / 1e6 });
}
console.log("validate + compile, layered workflows (median):");
for (const { nodes, ms, mb } of rows) {
  console.log(
    `  ${String(nodes).padStart(6)} nodes  ${mb.toFixed(1).padStart(5)} MB  ${ms.toFixed(0).padStart(6)} ms  ${((ms * 1000) / nodes).toFixed(1)} µs/node`,
  );
}
const [one, ten, fifty] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
console.log(
  `  10k/1k time ratio: ${(ten.ms / one.ms).toFixed(2)} (target ≤ 12)   50k/10k: ${(fifty.ms / ten.ms).toFixed(2)} (≤ 6 is linear)`,
);
console.log(`  10,000 nodes under 1 s: ${ten.ms < 1000 ? "yes" : "NO"}`);

const bombs = {
  "1,000,000 keys": "key: 0\n".repeat(1_000_000),
  "1 MB string × 99": `a: &a "${"x".repeat(1024 * 1024)}"\nb: [${Array(99).fill("*a").join(", ")}]\n`,
  "1 MB of aliases": `base: &b [1]\nlist:\n${"  - *b\n".repeat(180_000)}`,
  "1 MB of nesting": `a: ${"[".repeat(500_000)}${"]".repeat(500_000)}`,
  "billion laughs": `${['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    .concat(
      Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(",")}]`,
      ),
    )
    .join("\n")}\n`,
};
console.log("YAML bombs refused (yaml-limits), median:");
for (const [name, text] of Object.entries(bombs)) {
  const ms = timeMs(() => {
    const set = validateDefinitions([{ path: "bomb.yaml", text }]);
    if (set.files[0]?.errors[0]?.code !== "yaml-limits") throw new Error(`${name} was not refused`);
  }, 5);
  console.log(`  ${name.padEnd(16)} ${ms.toFixed(1).padStart(7)} ms`);
}

console.log(
  "pflow validate, a fresh process each run (start-up included; 7 runs after one that fills the compile cache):",
);
for (const line of startupReport(cliStartup(7))) console.log(line);
