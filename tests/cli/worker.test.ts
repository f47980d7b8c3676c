import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/ports.ts";

// `pflow worker --port` as a process: probes and metrics on its port, nothing
// else there, and a graceful stop on SIGTERM.

const BIN = join(import.meta.dirname, "../../cli/pflow.js");
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

describe("pflow worker --port", () => {
  it("serves /healthz, /readyz and /metrics, no API, and stops gracefully on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-worker-"));
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, "worker", "--port", String(port)], {
      cwd: dir,
      env: { ...process.env, PFLOW_LOG_LEVEL: "warn" },
      stdio: "ignore",
    });
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    while (
      !(await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error("pflow worker did not become ready");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain("pflow_queue_depth");
    expect((await fetch(`${base}/v1/runs`)).status).toBe(404);
    child.kill("SIGTERM");
    expect(await new Promise((resolve) => child.once("exit", resolve))).toBe(0);
  }, 40_000);
});
