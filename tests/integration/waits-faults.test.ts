import { afterEach, describe, expect, it } from "vitest";
import { expectWholeHistory } from "../contract/history-checks.ts";
import { Cluster } from "./cluster.ts";

/**
 * Waits across kill -9 of every process on the production topology (RabbitMQ
 * and the MongoDB-wire server): a timer wait and a signal wait hold nothing
 * in any process, so killing them all loses nothing; the timer fires once,
 * when it is due, whichever process is alive, even though none was then.
 */
const DEFINITIONS = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: waits }
spec:
  nodes:
    pause: { type: wait, for: 4s }
    docs: { type: wait, signal: documents-uploaded, schema: { type: object, required: [files] } }
    done: { type: transform, needs: [pause, docs], expr: "nodes.docs.output.files" }
`;

const clusters: Cluster[] = [];
afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.close();
});

describe("waits survive kill -9 of every process (RabbitMQ + MongoDB)", { timeout: 120_000 }, () => {
  it("a timer wait fires once after the restart; a signal wait takes the signal sent after it", async () => {
    const c = await Cluster.start(DEFINITIONS);
    clusters.push(c);
    const api = await c.serve({ workers: false });
    const worker = await c.worker();
    const runId = await c.startRun("waits");
    const waiting = await c.until(async () => {
      const executions = await c.store.getExecutions(runId);
      return executions.filter((e) => e.status === "waiting").length === 2 ? executions : undefined;
    }, "both wait nodes to wait");
    // Nothing held: no lease, and no task in the queue for them.
    for (const execution of waiting.filter((e) => e.nodeId !== "done"))
      expect(execution).toMatchObject({ leaseToken: null, status: "waiting" });
    const timer = waiting.find((e) => e.nodeId === "pause")?.leaseExpiresAt as number;

    await c.kill(api);
    await c.kill(worker);
    // Every process is dead when the timer is due.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, timer - Date.now()) + 500));
    expect((await c.store.getExecution(`${runId}/pause`))?.status).toBe("waiting");

    await c.serve({ workers: false });
    await c.worker();
    await c.worker();
    await c.until(
      async () => ((await c.store.getExecution(`${runId}/pause`))?.status === "succeeded" ? true : undefined),
      "the timer to fire",
    );
    const sent = await c.request(`/v1/runs/${runId}/signals/documents-uploaded`, {
      method: "POST",
      body: { data: { files: ["plan.pdf"] } },
    });
    expect(sent.status).toBe(202);
    expect(await c.finished(runId)).toBe("succeeded");
    expect((await c.store.getRun(runId))?.output).toEqual({ done: ["plan.pdf"] });
    const history = await c.until(
      async () => expectWholeHistory(c.store, runId, "run.succeeded").catch(() => undefined),
      "the run's history to be whole",
    );
    for (const nodeId of ["pause", "docs"]) {
      const ends = history.filter((e) => e.nodeId === nodeId && e.type === "node.succeeded");
      expect(ends, `${nodeId} ended once`).toHaveLength(1);
      expect(history.filter((e) => e.nodeId === nodeId && e.type === "node.waiting")).toHaveLength(1);
    }
    const fired = history.find((e) => e.nodeId === "pause" && e.type === "node.succeeded");
    expect(fired?.at).toBeGreaterThanOrEqual(timer);
  });
});
