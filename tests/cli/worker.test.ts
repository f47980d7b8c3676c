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

describe("pflow worker on the embedded default", () => {
  it("keeps running without --port until SIGTERM, then exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-worker-"));
    const child = spawn(process.execPath, [BIN, "worker"], {
      cwd: dir,
      env: embeddedDefaultEnv(),
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(child);
    let log = "";
    child.stderr?.on("data", (chunk) => {
      log += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const deadline = Date.now() + 20_000;
    while (!log.includes("worker started")) {
      if (Date.now() > deadline) throw new Error(`pflow worker did not start: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // It used to exit with code 13 here, the event loop being empty.
    const early = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve("running"), 1500)),
    ]);
    expect(early).toBe("running");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 40_000);
});

/** The environment without the store and broker settings: the embedded default. */
function embeddedDefaultEnv(): NodeJS.ProcessEnv {
  const {
    PFLOW_STORE_URL: _store,
    PFLOW_BROKER_URL: _broker,
    PFLOW_DEFINITIONS: _defs,
    ...env
  } = process.env;
  return { ...env, PFLOW_LOG_LEVEL: "info" };
}
