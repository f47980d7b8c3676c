import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../../engine/store/sqlite/sqlite-store.ts";
import { expectWholeHistory } from "../contract/history-checks.ts";
import { freePort } from "../helpers/ports.ts";
import { until } from "../helpers/until.ts";

// kill -9 of the embedded process (`pflow serve` on its SQLite file) while a
// run waits on a timer and on a signal, then a restart: the timer, due while
// nothing ran, fires once; the signal sent after the restart is taken; the
// run finishes. Real processes, the real bin.

const BIN = join(import.meta.dirname, "../../cli/pflow.js");
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

async function serve(dir: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "serve", "--port", String(port), "--definitions", "defs"], {
    env,
    cwd: dir,
    stdio: "ignore",
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await until(() => fetch(`${base}/readyz`).then((r) => r.ok || undefined), 20_000);
  return { child, base };
}

describe("waits across a crash of the embedded process", () => {
  it("kill -9 while a timer and a signal wait: after the restart the timer fires once and the signal is taken", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-wait-crash-"));
    mkdirSync(join(dir, "defs"));
    writeFileSync(
      join(dir, "defs/waits.yaml"),
      `apiVersion: pflow/v1
kind: Workflow
metadata: { name: waits }
spec:
  nodes:
    pause: { type: wait, for: 2s }
    docs: { type: wait, signal: documents-uploaded }
    done: { type: transform, needs: [pause, docs], expr: "nodes.docs.output" }
`,
    );
    const env = {
      ...process.env,
      PFLOW_STORE_URL: `sqlite:${join(dir, "pflow.db")}`,
      PFLOW_LOG_LEVEL: "silent",
      PFLOW_SWEEP_INTERVAL_MS: "100",
    };
    const store = new SqliteStore(join(dir, "pflow.db"));
    try {
      const first = await serve(dir, env);
      const started = await fetch(`${first.base}/v1/workflows/waits/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: {} }),
      });
      const runId = ((await started.json()) as { id: string }).id;
      await store.start();
      const waiting = await until(async () => {
        const executions = await store.getExecutions(runId);
        return executions.filter((e) => e.status === "waiting").length === 2 ? executions : undefined;
      }, 10_000);
      // The worker releases its slot just after the write that parks the node:
      // once both wait, the process soon holds no slot and no lease.
      const metrics = await until(async () => {
        const text = await (await fetch(`${first.base}/metrics`)).text();
        return /^pflow_worker_slots_busy 0$/m.test(text) ? text : undefined;
      }, 10_000);
      expect(metrics).toMatch(/^pflow_worker_slots_busy 0$/m);
      expect(metrics).toMatch(/^pflow_leases_held 0$/m);
      const timer = waiting.find((e) => e.nodeId === "pause")?.leaseExpiresAt as number;
      first.child.kill("SIGKILL");
      await new Promise((resolve) => first.child.once("exit", resolve));
      // Due while nothing runs.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, timer - Date.now()) + 300));
      expect((await store.getExecution(`${runId}/pause`))?.status).toBe("waiting");

      const second = await serve(dir, env);
      await until(
        async () => ((await store.getExecution(`${runId}/pause`))?.status === "succeeded" ? true : undefined),
        10_000,
      );
      const sent = await fetch(`${second.base}/v1/runs/${runId}/signals/documents-uploaded`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": "upload-1" },
        body: JSON.stringify({ data: { files: ["plan.pdf"] } }),
      });
      expect(sent.status).toBe(202);
      const run = await until(async () => {
        const current = await store.getRun(runId);
        return current?.status === "succeeded" ? current : undefined;
      }, 10_000);
      expect(run.output).toEqual({ done: { files: ["plan.pdf"] } });
      const history = await expectWholeHistory(store, runId, "run.succeeded");
      for (const nodeId of ["pause", "docs"])
        expect(history.filter((e) => e.nodeId === nodeId && e.type === "node.succeeded")).toHaveLength(1);
    } finally {
      await store.close();
    }
  }, 60_000);
});
