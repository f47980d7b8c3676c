import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../../engine/store/sqlite/sqlite-store.ts";
import { expectWholeHistory } from "../contract/history-checks.ts";
import { until } from "../helpers/until.ts";

// kill -9 of the whole process in the middle of a run, then a restart: the run
// finishes, and what had finished before the crash is not run again. Real
// processes, the real bin, the embedded SQLite file they share.

const BIN = join(import.meta.dirname, "../../cli/pflow.js");
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

function start(args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: "ignore" });
  children.push(child);
  return child;
}

describe("a crash of the whole process", () => {
  it("kill -9 mid-run, restart: the run finishes, finished nodes are kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pflow-crash-"));
    mkdirSync(join(dir, "defs"));
    writeFileSync(
      join(dir, "defs/slow.yaml"),
      `apiVersion: pflow/v1
kind: Model
metadata: { name: slow }
spec:
  versions:
    "1": { provider: mock, latency: 400ms, response: { step: "{{ input.step }}" } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: steps }
spec:
  nodes:
    one: { type: model, model: slow, input: { step: 1 } }
    two: { type: model, model: slow, input: { step: "{{ nodes.one.output.step + 1 }}" } }
    three: { type: model, model: slow, input: { step: "{{ nodes.two.output.step + 1 }}" } }
`,
    );
    const env = {
      ...process.env,
      PFLOW_STORE_URL: `sqlite:${join(dir, "pflow.db")}`,
      PFLOW_LOG_LEVEL: "silent",
    };
    const store = new SqliteStore(join(dir, "pflow.db"));
    try {
      const first = start(["run", "steps", "--definitions", "defs"], env, dir);
      await until(async () => store.start().then(() => true) as Promise<true>, 10_000);
      const runId = await until(async () => {
        const [run] = (await store.listRuns({ limit: 1 })).items;
        const executions = run ? await store.getExecutions(run.id) : [];
        const one = executions.find((e) => e.nodeId === "one");
        const two = executions.find((e) => e.nodeId === "two");
        return one?.status === "succeeded" && two?.status === "running" ? run?.id : undefined;
      }, 15_000);
      first.kill("SIGKILL");
      await new Promise((resolve) => first.once("exit", resolve));
      const before = await store.getExecutions(runId);
      expect((await store.getRun(runId))?.status).toBe("running");

      start(["worker", "--definitions", "defs"], env, dir);
      const run = await until(async () => {
        const current = await store.getRun(runId);
        return current?.status === "succeeded" ? current : undefined;
      }, 20_000);
      const after = await store.getExecutions(runId);
      const byNode = (list: typeof after, id: string) => list.find((e) => e.nodeId === id);
      expect(run.output).toEqual({ three: { step: 3 } });
      expect(byNode(after, "one")?.attemptsTotal).toBe(1);
      expect(byNode(after, "one")?.finishedAt).toBe(byNode(before, "one")?.finishedAt);
      expect(byNode(after, "two")?.attemptsTotal).toBe(2);
      expect(byNode(after, "three")?.status).toBe("succeeded");
      // The history lost nothing and doubled nothing: node two's first attempt ended with its lost lease.
      const history = await expectWholeHistory(store, runId, "run.succeeded");
      const ofTwo = history.filter((event) => event.nodeId === "two" && event.type.startsWith("attempt."));
      expect(ofTwo.map((event) => `${event.type} ${event.attempt}`)).toEqual([
        "attempt.started 1",
        "attempt.failed 1",
        "attempt.started 2",
        "attempt.succeeded 2",
      ]);
      expect(ofTwo[1]?.data.error).toMatchObject({ code: "lease-expired" });
    } finally {
      await store.close();
    }
  }, 60_000);
});
