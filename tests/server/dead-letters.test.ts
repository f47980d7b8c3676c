import { afterEach, describe, expect, it } from "vitest";
import { executionKey } from "../../engine/store/records.ts";
import { taskFor } from "../../engine/tasks.ts";
import { deadLetterRoutes } from "../../server/routes/dead-letters.ts";
import { READER_KEY, type TestServer, testServer, WRITER_KEY } from "./harness.ts";

// Dead letters over HTTP, against a real server on the embedded adapters. A
// letter is made as the broker makes one (engine.deadLetter), on a run whose
// mock model is slow enough that the node is still in hand when it happens.

const DEFINITIONS = [
  `apiVersion: pflow/v1
kind: Model
metadata: { name: slow }
spec:
  versions:
    "1": { provider: mock, latency: 200ms, response: { text: done } }
`,
  `apiVersion: pflow/v1
kind: Model
metadata: { name: lingering }
spec:
  versions:
    "1": { provider: mock, latency: 1s, response: { text: late } }
`,
  `apiVersion: pflow/v1
kind: Workflow
metadata: { name: once }
spec:
  nodes:
    call: { type: model, model: slow, input: { q: 1 } }
`,
  `apiVersion: pflow/v1
kind: Workflow
metadata: { name: pair }
spec:
  nodes:
    call: { type: model, model: slow, input: { q: 1 } }
    other: { type: model, model: lingering, input: { q: 2 } }
`,
];

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<TestServer> {
  server = await testServer({ definitions: DEFINITIONS, routes: [deadLetterRoutes] });
  return server;
}

/** Starts a run and dead-letters its `call` node, as the broker does after too many deliveries. */
async function deadLetteredRun(s: TestServer, workflow: string) {
  const run = await s.engine.startRun({ workflow, input: {} });
  const { plan } = await s.engine.services.catalog.plan(workflow);
  await s.engine.deadLetter(taskFor(run.id, executionKey(run.id, "call"), plan), "handler crashed", 5);
  const [letter] = await s.engine.services.store.listDeadLetters(1);
  return { runId: run.id, letterId: letter?.id as string };
}

function replay(s: TestServer, id: string, key?: string) {
  return s.request("POST", `/v1/dead-letters/${encodeURIComponent(id)}/replay`, {
    ...(key === undefined ? {} : { key }),
  });
}

describe("GET /v1/dead-letters", () => {
  it("lists the dead letters, newest first", async () => {
    const s = await start();
    const first = await deadLetteredRun(s, "once");
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later createdAt, for the order
    const second = await deadLetteredRun(s, "once");

    const response = await s.request("GET", "/v1/dead-letters", { key: READER_KEY });
    expect(response.status).toBe(200);
    expect(response.json.items).toEqual([
      {
        id: second.letterId,
        kind: "execution",
        executionKey: `${second.runId}/call`,
        runId: second.runId,
        nodeId: "call",
        reason: "handler crashed",
        deliveries: 5,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
      expect.objectContaining({ id: first.letterId, runId: first.runId }),
    ]);
    const limited = await s.request("GET", "/v1/dead-letters?limit=1");
    expect(limited.json.items).toHaveLength(1);
    expect((await s.request("GET", "/v1/dead-letters?limit=many")).status).toBe(400);
  });
});

describe("POST /v1/dead-letters/{id}/replay", () => {
  it("reruns the failed run from its failed node and takes the letter", async () => {
    const s = await start();
    const { runId, letterId } = await deadLetteredRun(s, "once");
    const failed = await s.engine.runJson(runId);
    expect(failed?.status).toBe("failed");
    expect(failed?.nodes.call?.error?.code).toBe("dead-lettered");

    const response = await replay(s, letterId, WRITER_KEY);
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ id: letterId, runId, status: "running" });
    expect((await s.request("GET", "/v1/dead-letters")).json.items).toEqual([]);

    await s.engine.waitForRun(runId, 10_000);
    const finished = await s.engine.runJson(runId);
    expect(finished?.status).toBe("succeeded");
    expect(finished?.nodes.call?.output).toEqual({ text: "done" });

    // Taken: a second replay finds nothing.
    expect((await replay(s, letterId)).status).toBe(404);
  });

  it("409s while the run has not ended, and keeps the letter for later", async () => {
    const s = await start();
    // `other` is still running (for a second), so the run has not failed yet.
    const { runId, letterId } = await deadLetteredRun(s, "pair");
    expect((await s.engine.services.store.getRun(runId))?.status).toBe("running");

    const early = await replay(s, letterId);
    expect(early.status).toBe(409);
    expect(early.json).toMatchObject({
      type: expect.stringMatching(/conflict$/),
      detail: `run ${runId} is running; only a failed, cancelled or timed-out run can be replayed`,
    });
    expect((await s.request("GET", "/v1/dead-letters")).json.items.map((l: { id: string }) => l.id)).toEqual([
      letterId,
    ]);

    await s.engine.waitForRun(runId, 10_000);
    expect((await replay(s, letterId)).status).toBe(202);
  });

  it("404s for an unknown dead letter", async () => {
    const s = await start();
    const response = await replay(s, "no-such-letter");
    expect(response.status).toBe(404);
    expect(response.json.detail).toBe('no dead letter "no-such-letter"');
  });

  it("needs runs:write to replay, runs:read to list", async () => {
    const s = await start();
    const { letterId } = await deadLetteredRun(s, "once");
    expect((await replay(s, letterId, READER_KEY)).status).toBe(403);
    expect((await s.request("GET", "/v1/dead-letters", { key: null })).status).toBe(401);
    expect((await replay(s, letterId, WRITER_KEY)).status).toBe(202);
  });
});
