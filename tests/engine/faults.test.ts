import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { taskFor } from "../../engine/runner.ts";
import { executionKey } from "../../engine/store/records.ts";
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
});
