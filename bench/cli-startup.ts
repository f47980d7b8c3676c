/**
 * `pflow validate` as CI runs it: a fresh process each time, so what counts is
 * start-up (loading modules) plus the work. Reports the median and the best
 * of a few runs of the real CLI (node cli/pflow.js, not npx, whose own
 * start-up is npm's): one small file, and a 10,000-node workflow.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { layeredWorkflow, MODEL } from "./layered-workflow.ts";

const ROOT = join(import.meta.dirname, "..");
const SMALL = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: small }
spec:
  nodes:
    a: { type: transform, expr: "1 + 1" }
    b: { type: transform, expr: "nodes.a.output * 2" }
`;

export interface StartupTimes {
  readonly label: string;
  /** Wall time: what CI waits for; on a busy machine, mostly waiting for a core. */
  readonly medianMs: number;
  readonly bestMs: number;
  /** CPU time (user + system) of the process: the work itself, whatever else the machine does. */
  readonly medianCpuMs: number;
}

/** Makes the child print its own CPU time as it exits (a preloaded module, so the CLI is unchanged). */
const REPORT_CPU = `data:text/javascript,process.on("exit",()=>{const u=process.cpuUsage();process.stderr.write("\\ncpu-ms "+(u.user+u.system)/1000+"\\n")})`;

/** Wall time of `pflow validate` runs (the first, which fills the compile cache, not counted). */
export function cliStartup(runs = 7): StartupTimes[] {
  const dir = mkdtempSync(join(tmpdir(), "pflow-startup-"));
  try {
    writeFileSync(join(dir, "small.yaml"), SMALL);
    writeFileSync(join(dir, "flow.yaml"), layeredWorkflow(10_000));
    writeFileSync(join(dir, "model.yaml"), MODEL);
    const cases: [string, string[]][] = [
      ["validate, one small file", [join(dir, "small.yaml")]],
      ["validate, 10,000 nodes", [join(dir, "flow.yaml"), join(dir, "model.yaml")]],
    ];
    return cases.map(([label, files]) => {
      const samples: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const start = performance.now();
        const result = spawnSync(
          process.execPath,
          ["--import", REPORT_CPU, join(ROOT, "cli/pflow.js"), "validate", ...files],
          { encoding: "utf8" },
        );
        const ms = performance.now() - start;
        if (result.status !== 0) throw new Error(`pflow validate failed: ${result.stdout}${result.stderr}`);
        if (i === 0) continue;
        samples.push(ms);
        cpu.push(Number(/cpu-ms ([0-9.]+)/.exec(result.stderr)?.[1]));
      }
      return { label, medianMs: median(samples), bestMs: Math.min(...samples), medianCpuMs: median(cpu) };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** The report's lines, with the targets of issue 13 (≤ 250 ms and ≤ 500 ms). */
export function startupReport(times: readonly StartupTimes[]): string[] {
  const targets = [250, 500];
  return times.map(
    ({ label, medianMs, bestMs, medianCpuMs }, i) =>
      `  ${label.padEnd(26)} wall median ${medianMs.toFixed(0).padStart(5)} ms, best ${bestMs.toFixed(0).padStart(5)} ms;` +
      ` CPU median ${medianCpuMs.toFixed(0).padStart(5)} ms (target ≤ ${targets[i]} ms)`,
  );
}

if (import.meta.main) {
  for (const line of startupReport(cliStartup(Number(process.argv[2] ?? 7)))) console.log(line);
}
