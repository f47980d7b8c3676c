import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../helpers/ports.ts";

// The README's "Serve the API" block, run word for word by a non-interactive
// bash (only the port is changed, to a free one): it must wait for the server,
// get the finished run, and leave no server behind after its `kill $!`.

const ROOT = join(import.meta.dirname, "../..");

function serveBlock(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = /## Serve the API\n\n```sh\n([\s\S]*?)\n```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md has no "Serve the API" sh block');
  return block;
}

async function listening(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/healthz`).then(
    () => true,
    () => false,
  );
}

describe("README: Serve the API", () => {
  it("works pasted as written, and stops the server at its end", async () => {
    const port = await freePort();
    const script = serveBlock().replaceAll("8080", String(port));
    const { PFLOW_DEFINITIONS: _d, PFLOW_API_KEYS: _k, ...env } = process.env;
    const shell = spawn("bash", ["-c", script], {
      cwd: ROOT,
      env: {
        ...env,
        PFLOW_PORT: String(port),
        PFLOW_STORE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), "pflow-readme-")), "pflow.db")}`,
        PFLOW_LOG_LEVEL: "warn",
      },
      // Its own process group, so that whatever it leaves behind can be cleaned up here.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    shell.stdout.on("data", (chunk) => {
      stdout += String(chunk);
    });
    shell.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    try {
      const code = await new Promise((resolve) => shell.once("exit", resolve));
      expect(code, stderr).toBe(0);
      expect(stdout).toContain("event: run.succeeded");
      expect(stdout).toMatch(/"status":"succeeded"/);
      expect(stdout).toContain('"attempt":1');
      const deadline = Date.now() + 15_000;
      while (await listening(port)) {
        if (Date.now() > deadline) throw new Error("the server was still serving 15 s after kill $!");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      try {
        process.kill(-(shell.pid as number), "SIGKILL");
      } catch {
        // the group is gone already
      }
    }
  }, 90_000);
});
