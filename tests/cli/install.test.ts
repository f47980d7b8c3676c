import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";

// `npm install` with the machine's own Node (older than 24 here) prints no
// EBADENGINE warnings: the project's .npmrc (docs/decisions.md).

const ROOT = join(import.meta.dirname, "../..");
const machinePath = (process.env.PATH ?? "")
  .split(delimiter)
  .filter((dir) => !dir.includes("node_modules"))
  .join(delimiter);
const npm = machinePath.split(delimiter).find((dir) => existsSync(join(dir, "npm")));

describe("npm install on the machine's Node", () => {
  it.skipIf(npm === undefined)(
    "prints no EBADENGINE warning",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "pflow-install-"));
      for (const file of ["package.json", "package-lock.json", ".npmrc"])
        copyFileSync(join(ROOT, file), join(dir, file));
      const result = spawnSync(
        join(npm as string, "npm"),
        ["install", "--dry-run", "--ignore-scripts", "--offline", "--no-audit", "--no-fund"],
        { cwd: dir, env: { ...process.env, PATH: machinePath }, encoding: "utf8", timeout: 60_000 },
      );
      expect(result.status, result.stderr).toBe(0);
      expect(`${result.stdout}${result.stderr}`).not.toContain("EBADENGINE");
    },
    70_000,
  );
});
