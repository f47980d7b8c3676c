import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { executionKey } from "../../engine/store/records.ts";
import { taskFor } from "../../engine/tasks.ts";
import { Worker } from "../../engine/worker.ts";
import { type Harness, harness, workflow } from "./harness.ts";
import { type FakeServer, startFakeServer } from "./providers/fake-openai-server.ts";

// Deliveries are at least once; state changes must be exactly once.

let h: Harness | undefined;
let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  server.reset();
});

function definitions() {
  return [
    workflow("once", `    call: { type: model, model: counted, input: { q: 1 } }\n`),
    `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: counted }\nspec:\n  versions:\n    "1": { provider: http, endpoint: "${server.url}/counted" }\n`,
  ];
}

describe("faults", () => {
  it("a task delivered three times runs once", async () => {
    server.respond({ json: { ok: true } });
    h = await harness(definitions(), { start: false });
    const run = await h.engine.startRun({ workflow: "once", input: {} });
    const { plan } = await h.engine.services.catalog.plan("once");
    await h.engine.services.broker.publish([taskFor(run.id, executionKey(run.id, "call"), plan)]);
    await h.engine.start({ recoverAllLeases: true }); // recovery publishes it a third time
    await h.engine.waitForRun(run.id, 10_000);
    const finished = await h.engine.runJson(run.id);
    expect(finished?.status).toBe("succeeded");
    expect(finished?.nodes.call?.attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it("a worker that dies holding a lease: the lease expires, the node runs again, the late worker is fenced off", async () => {
    server.respond({ json: { ok: true } });
    h = await harness(definitions(), { start: false, config: { leaseMs: 300 } });
    const { store, clock } = h.engine.services;
    const run = await h.engine.startRun({ workflow: "once", input: {} });
    const key = executionKey(run.id, "call");
    const dead = await store.claimExecution(key, { token: "dead-worker", until: clock() + 300 }, clock());
    expect(dead?.status).toBe("running");
    await h.engine.start({ recoverAllLeases: false });
    await h.engine.waitForRun(run.id, 10_000);
    const finished = await h.engine.runJson(run.id);
    expect(finished?.status).toBe("succeeded");
    expect(finished?.nodes.call?.attempts).toBe(2);
    const late = await store.finishExecution(
      key,
      { status: ["running"], token: "dead-worker" },
      { status: "failed", error: { code: "late", message: "too late" } },
      { dependents: [], dependencyCounts: {} },
      clock(),
    );
    expect(late).toBeNull();
    expect((await h.engine.runJson(run.id))?.nodes.call?.status).toBe("succeeded");
  });

  it("a dead-lettered task is kept and fails its node with the reason, so the run ends", async () => {
    h = await harness(definitions(), { start: false });
    const run = await h.engine.startRun({ workflow: "once", input: {} });
    const { plan } = await h.engine.services.catalog.plan("once");
    await h.engine.deadLetter(taskFor(run.id, executionKey(run.id, "call"), plan), "handler crashed", 5);
    const finished = await h.engine.runJson(run.id);
    expect(finished?.status).toBe("failed");
    expect(finished?.nodes.call?.error).toEqual({
      code: "dead-lettered",
      message: "delivery failed 5 times: handler crashed",
    });
    const letters = await h.engine.services.store.listDeadLetters(10);
    expect(letters.map((l) => l.executionKey)).toEqual([executionKey(run.id, "call")]);
  });

  it("a poison task, whose workers keep dying: dead-lettered once its lost leases reach the limit, never run again", async () => {
    server.respond({ json: { ok: true } });
    h = await harness(definitions(), { start: false, config: { leaseMs: 200, maxDeliveries: 2 } });
    const { store, clock } = h.engine.services;
    const run = await h.engine.startRun({ workflow: "once", input: {} });
    const key = executionKey(run.id, "call");
    // Two workers die holding it: each lease expires and is swept.
    for (const worker of ["first", "second"]) {
      await store.claimExecution(key, { token: worker, until: clock() - 1 }, clock());
      await store.sweepExpiredLeases(clock(), 10);
    }
    expect(await store.getExecution(key)).toMatchObject({ status: "queued", leasesLost: 2 });
    await h.engine.start({ recoverAllLeases: false });
    await h.engine.waitForRun(run.id, 10_000);
    const finished = await h.engine.runJson(run.id);
    expect(finished?.status).toBe("failed");
    expect(finished?.nodes.call?.error?.code).toBe("dead-lettered");
    expect(finished?.nodes.call?.error?.message).toMatch(/died or stalled 2 times/);
    expect(server.requests).toHaveLength(0);
    const letters = await store.listDeadLetters(10);
    expect(letters).toMatchObject([{ executionKey: key, deliveries: 2 }]);
  });

  it("a dead letter handed over twice is kept once", async () => {
    h = await harness(definitions(), { start: false });
    const run = await h.engine.startRun({ workflow: "once", input: {} });
    const { plan } = await h.engine.services.catalog.plan("once");
    const task = taskFor(run.id, executionKey(run.id, "call"), plan);
    await h.engine.deadLetter(task, "handler crashed", 5);
    await h.engine.deadLetter(task, "handler crashed", 5);
    expect(await h.engine.services.store.listDeadLetters(10)).toHaveLength(1);
  });

  it("a dead letter of a run whose workflow version is gone still fails the run", async () => {
    h = await harness(definitions(), { start: false });
    const { store, clock } = h.engine.services;
    const run = await h.engine.startRun({ workflow: "once", input: {} });
    // A run pinned to a version nobody registered: its plan cannot be loaded.
    await store.createRun(
      {
        ...run,
        id: "orphan-run",
        workflow: { name: "once", version: 99 },
        nodesTotal: 1,
        createdAt: clock(),
      },
      ["call"],
    );
    await store.transitionRun("orphan-run", ["pending"], { status: "running", startedAt: clock() });
    await h.engine.deadLetter(
      { key: "orphan-run/call", runId: "orphan-run", nodeId: "call", route: "model.counted" },
      "cannot be planned",
      5,
    );
    expect(await store.getRun("orphan-run")).toMatchObject({
      status: "failed",
      error: { code: "dead-lettered" },
    });
  });

  it("a worker stopping with an attempt still running after its grace period releases it to the queue", async () => {
    const slow = `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: slow }\nspec:\n  versions:\n    "1": { provider: mock, latency: 30s, response: { ok: true } }\n`;
    h = await harness([workflow("slow-one", "    call: { type: model, model: slow, input: {} }\n"), slow], {
      config: { shutdownGraceMs: 50 },
    });
    const { store } = h.engine.services;
    const run = await h.engine.startRun({ workflow: "slow-one", input: {} });
    const key = executionKey(run.id, "call");
    while ((await store.getExecution(key))?.status !== "running") await new Promise((r) => setTimeout(r, 10));
    await h.engine.stop();
    expect(await store.getExecution(key)).toMatchObject({
      status: "queued",
      leaseToken: null,
      error: { code: "worker-stopped" },
    });
  });

  it("while the store cannot be reached, a worker holds its delivery instead of failing it, and handles it once the store is back", async () => {
    server.respond({ json: { ok: true } });
    h = await harness(definitions(), { start: false });
    const services = h.engine.services;
    const run = await h.engine.startRun({ workflow: "once", input: {} });
    const { plan } = await services.catalog.plan("once");
    let down = true;
    const failing = new Set(["ping", "claimExecution"]);
    const store = new Proxy(services.store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) =>
          down && failing.has(String(property))
            ? Promise.reject(new Error("connect ECONNREFUSED"))
            : value.apply(target, args);
      },
    });
    const worker = new Worker({ ...services, store }, h.engine.runner);
    const settled: string[] = [];
    const handling = worker.handle({
      task: taskFor(run.id, executionKey(run.id, "call"), plan),
      deliveries: 1,
      ack: async () => {
        settled.push("ack");
      },
      nack: async () => {
        settled.push("nack");
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(settled).toEqual([]);
    down = false;
    await handling;
    expect(settled).toEqual(["ack"]);
    expect(await services.store.getExecution(executionKey(run.id, "call"))).toMatchObject({
      status: "succeeded",
      attemptsTotal: 1,
    });
  });

  it("a run this process saw end, then retried by another process, is not aborted here", async () => {
    server.respond({ status: 400, json: { error: "bad request" } });
    h = await harness(definitions());
    const { store, clock } = h.engine.services;
    const failed = await h.run("once", {});
    expect(failed.status).toBe("failed");
    const ended = await store.getRun(failed.id);
    // As this process saw it: ended, so an attempt of it is aborted at once.
    expect(h.engine.runner.runSignal({ id: failed.id, startedAt: ended?.startedAt ?? 0 }).aborted).toBe(true);
    // Another process retried it (this one's runner was not told): running again, started after it ended.
    const restarted = await store.transitionRun(failed.id, ["failed"], {
      status: "running",
      startedAt: clock() + 1,
      finishedAt: null,
    });
    expect(restarted).not.toBeNull();
    expect(
      h.engine.runner.runSignal({ id: failed.id, startedAt: restarted?.startedAt ?? null }).aborted,
    ).toBe(false);
  });
});
