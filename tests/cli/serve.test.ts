import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pflow } from "../helpers/cli.ts";
import { freePort } from "../helpers/ports.ts";

// `pflow serve` as a process: it refuses a public listener without keys, serves
// the bundled examples on loopback, and stops gracefully on SIGTERM.

const BIN = join(import.meta.dirname, "../../cli/pflow.js");
const INPUT = join(import.meta.dirname, "../../examples/inputs/lead-scoring.json");
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  delete process.env.PFLOW_API_KEYS;
});

describe("pflow serve", () => {
  it("refuses to listen on a non-loopback address without API keys, saying how to configure them", async () => {
    const result = await pflow("serve", "--host", "0.0.0.0", "--port", "0");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("refusing to serve on 0.0.0.0 without API keys");
    expect(result.stderr).toContain("PFLOW_API_KEYS=");
  });

  it("refuses keys it cannot use", async () => {
    process.env.PFLOW_API_KEYS = "short:admin";
    expect((await pflow("serve", "--port", "0")).stderr).toContain("at least 16 characters");
    process.env.PFLOW_API_KEYS = "a-long-enough-key-1234:root";
    expect((await pflow("serve", "--port", "0")).stderr).toContain('unknown scope "root"');
  });

  it("serves the examples on loopback, runs one, and stops gracefully on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-serve-"));
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, "serve", "--port", String(port)], {
      cwd: dir,
      env: { ...process.env, PFLOW_LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error("pflow serve did not become ready");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const started = await fetch(`${base}/v1/workflows/lead-scoring/runs?wait=20`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: JSON.parse(readFileSync(INPUT, "utf8")) }),
    });
    const run = (await started.json()) as { status: string; nodes: Record<string, unknown> };
    expect(started.status, JSON.stringify(run)).toBe(200);
    expect(run.status).toBe("succeeded");
    child.kill("SIGTERM");
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
  }, 40_000);
});

describe("pflow serve with definitions that are not valid", () => {
  it("refuses to start, listing every finding", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-bad-defs-"));
    writeFileSync(
      join(dir, "broken.yaml"),
      "apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: broken }\nspec:\n  nodes:\n    a: { type: transform, expr: 'inputs.x +' }\n    b: { type: model, model: nowhere }\n",
    );
    const result = await pflow("serve", "--definitions", dir, "--port", "0");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("are not valid");
    expect(result.stderr).toContain("error expression-syntax");
    expect(result.stderr).toContain("error unknown-model");
  });
});

describe("pflow serve and the store's registry", () => {
  const flow = (name: string) =>
    `apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: ${name} }\nspec:\n  nodes:\n    say: { type: transform, expr: '"${name}"' }\n`;

  async function serve(
    dir: string,
    definitions: string,
  ): Promise<{ base: string; log: () => string; stop: () => Promise<number | null> }> {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--port", String(port), "--definitions", definitions],
      {
        cwd: dir,
        env: { ...process.env, PFLOW_LOG_LEVEL: "info", PFLOW_STORE_URL: `sqlite:${join(dir, "pflow.db")}` },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.push(child);
    let log = "";
    child.stdout?.on("data", (chunk) => {
      log += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    while (
      !(await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error(`pflow serve did not become ready: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return {
      base,
      log: () => log,
      stop: () => {
        child.kill("SIGTERM");
        return exited;
      },
    };
  }

  it("serves what the store holds, its own directory added: says each new version, and names the earlier ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-serve-"));
    for (const [sub, name] of [
      ["a", "hello"],
      ["b", "other"],
    ] as const) {
      mkdirSync(join(dir, sub));
      writeFileSync(join(dir, sub, `${name}.yaml`), flow(name));
    }
    const first = await serve(dir, "a");
    expect(await first.stop()).toBe(0);
    expect(first.log()).toContain('registered workflow \\"hello\\" version 1 (new)');

    const second = await serve(dir, "b");
    try {
      expect(second.log()).toContain('registered workflow \\"other\\" version 1 (new)');
      expect(second.log()).toContain("also serving workflows registered earlier, not in b: hello");
      const run = await fetch(`${second.base}/v1/workflows/hello/runs?wait=10`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(((await run.json()) as { output: unknown }).output).toEqual({ say: "hello" });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 60_000);
});
