import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED, REQUEST_LIMIT_BYTES } from "../../engine/history/redact.ts";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import { type TestServer, testServer } from "./harness.ts";

// GET /v1/runs/{id}/history and GET /v1/runs/{id}/nodes/{nodeId}/attempts:
// the run's history, every round, and each node's attempts read from it.

const FAST_RETRY = "retry: { maxAttempts: 2, delay: 10ms, jitter: false }";
const DEFINITIONS = [
  workflow(
    "flaky-story",
    `    draft: { type: model, model: flaky, ${FAST_RETRY}, input: { prompt: "hi", apiKey: "{{ inputs.key }}" } }\n`,
  ),
  workflow("doomed", `    try: { type: model, model: broken, retry: { maxAttempts: 1 } }\n`),
  workflow(
    "rescued",
    `    ask: { type: model, model: broken, fallback: [steady], retry: { maxAttempts: 1 } }\n`,
  ),
  workflow("big", `    ask: { type: model, model: steady, input: { text: "{{ $pad('', 70000, 'x') }}" } }\n`),
  workflow(
    "fan",
    `    each:
      type: map
      items: "{{ [1, 2, 3] }}"
      node: { type: model, model: steady, input: { n: "{{ item }}" } }
`,
  ),
  mockModel("flaky", { "1": "response: { text: 'ok' }, failures: 1" }),
  mockModel("broken", { "1": 'error: "the model refused"' }),
  mockModel("steady", { "1": "response: { text: 'fine' }" }),
];

let server: TestServer;
beforeAll(async () => {
  server = await testServer({ definitions: DEFINITIONS, routes: [runRoutes] });
});
afterAll(async () => {
  await server.close();
});

async function finished(name: string, input: Record<string, unknown> = {}): Promise<string> {
  const response = await server.request("POST", `/v1/workflows/${name}/runs?wait=10`, { body: { input } });
  expect(response.status).toBe(200);
  return response.json.id;
}

describe("GET /v1/runs/{id}/history", () => {
  it("lists every event in order, numbered from 1, with the fields of the contract", async () => {
    const runId = await finished("flaky-story", { key: "sk-secret" });
    const { status, json } = await server.request("GET", `/v1/runs/${runId}/history?limit=1000`);
    expect(status).toBe(200);
    expect(json.next).toBeUndefined();
    const events = json.items;
    expect(events.map((event: { seq: number }) => event.seq)).toEqual(
      events.map((_: unknown, i: number) => i + 1),
    );
    expect(events.map((event: { type: string }) => event.type)).toEqual([
      "run.created",
      "run.running",
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.failed",
      "attempt.retry_scheduled",
      "node.queued",
      "node.running",
      "attempt.started",
      "attempt.succeeded",
      "node.succeeded",
      "run.succeeded",
    ]);
    expect(events[5]).toMatchObject({
      runId,
      round: 1,
      nodeId: "draft",
      attempt: 1,
      at: expect.stringMatching(/Z$/),
      data: { error: { code: "mock-failure", retryable: true }, model: "flaky@1", provider: "mock" },
    });
    expect(events[6].data.dueAt).toEqual(expect.stringMatching(/Z$/));
    // The fields older event-stream clients read are there too.
    expect(events[11]).toMatchObject({ status: "succeeded", attempts: 2, output: { text: "ok" } });
  });

  it("pages with after and next", async () => {
    const runId = await finished("flaky-story", { key: "k" });
    const first = await server.request("GET", `/v1/runs/${runId}/history?limit=4`);
    expect(first.json.items).toHaveLength(4);
    expect(first.json.next).toBe(4);
    const second = await server.request("GET", `/v1/runs/${runId}/history?after=4&limit=4`);
    expect(second.json.items.map((event: { seq: number }) => event.seq)).toEqual([5, 6, 7, 8]);
  });

  it("keeps the first round after a retry, and the run view shows the round", async () => {
    const runId = await finished("doomed");
    expect((await server.request("POST", `/v1/runs/${runId}/retry`)).status).toBe(202);
    await server.engine.waitForRun(runId, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const run = await server.request("GET", `/v1/runs/${runId}`);
    expect(run.json).toMatchObject({ status: "failed", round: 2 });
    const { json } = await server.request("GET", `/v1/runs/${runId}/history?limit=1000`);
    const runEvents = json.items
      .filter((event: { type: string }) => event.type.startsWith("run."))
      .map((event: { round: number; type: string }) => `${event.round} ${event.type}`);
    expect(runEvents).toEqual([
      "1 run.created",
      "1 run.running",
      "1 run.failed",
      "2 run.retried",
      "2 run.running",
      "2 run.failed",
    ]);

    const attempts = await server.request("GET", `/v1/runs/${runId}/nodes/try/attempts`);
    expect(attempts.status).toBe(200);
    expect(attempts.json.items).toEqual([
      expect.objectContaining({ round: 1, attempt: 1, status: "failed", model: "broken@1", cached: false }),
      expect.objectContaining({ round: 2, attempt: 1, status: "failed", model: "broken@1" }),
    ]);
    expect(attempts.json.items[0].error).toEqual({
      code: "mock-error",
      message: "the model refused",
      retryable: false,
    });
  });

  it("answers 404 for an unknown run, 400 for a bad query, 401 without a key", async () => {
    expect((await server.request("GET", "/v1/runs/nope/history")).status).toBe(404);
    const runId = await finished("doomed");
    const bad = await server.request("GET", `/v1/runs/${runId}/history?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toMatch(/limit/);
    expect((await server.request("GET", `/v1/runs/${runId}/history`, { key: null })).status).toBe(401);
  });
});

describe("GET /v1/runs/{id}/nodes/{nodeId}/attempts", () => {
  it("gives each attempt with its times, error, model, provider and the request, secrets redacted", async () => {
    const runId = await finished("flaky-story", { key: "sk-secret" });
    const { status, json } = await server.request("GET", `/v1/runs/${runId}/nodes/draft/attempts`);
    expect(status).toBe(200);
    expect(json.items).toHaveLength(2);
    const [first, second] = json.items;
    expect(first).toMatchObject({
      round: 1,
      attempt: 1,
      status: "failed",
      model: "flaky@1",
      provider: "mock",
      cached: false,
      error: { code: "mock-failure", retryable: true },
      request: { prompt: "hi", apiKey: REDACTED },
    });
    expect(Date.parse(first.finishedAt) - Date.parse(first.startedAt)).toBe(first.durationMs);
    expect(second).toMatchObject({ round: 1, attempt: 2, status: "succeeded", model: "flaky@1" });
    expect(second.error).toBeUndefined();
    expect(JSON.stringify(json)).not.toContain("sk-secret");
  });

  it("shows the fallback an attempt called", async () => {
    const runId = await finished("rescued");
    const { json } = await server.request("GET", `/v1/runs/${runId}/nodes/ask/attempts`);
    expect(json.items.map((a: { model: string; status: string }) => `${a.model} ${a.status}`)).toEqual([
      "broken@1 failed",
      "steady@1 succeeded",
    ]);
    const history = await server.request("GET", `/v1/runs/${runId}/history?limit=1000`);
    const fallback = history.json.items.find((event: { type: string }) => event.type === "attempt.fallback");
    expect(fallback.data).toEqual({ model: "steady@1", modelIndex: 1 });
  });

  it("cuts a request over 64 KB, with a marker", async () => {
    const runId = await finished("big");
    const { json } = await server.request("GET", `/v1/runs/${runId}/nodes/ask/attempts`);
    const request = json.items[0].request;
    expect(typeof request).toBe("string");
    expect(request).toMatch(/…\[cut: \d+ bytes in all, the first 65536 kept\]$/);
    expect(Buffer.byteLength(request)).toBeLessThan(REQUEST_LIMIT_BYTES + 100);
  });

  it("gives a map item's attempts with ?item=N, and the map node's own without", async () => {
    const runId = await finished("fan");
    const item = await server.request("GET", `/v1/runs/${runId}/nodes/each/attempts?item=1`);
    expect(item.json.items).toEqual([
      expect.objectContaining({ item: 1, attempt: 1, status: "succeeded", request: { n: 2 } }),
    ]);
    const own = await server.request("GET", `/v1/runs/${runId}/nodes/each/attempts`);
    expect(own.json.items).toEqual([expect.objectContaining({ attempt: 1, status: "succeeded" })]);
    expect(own.json.items[0].item).toBeUndefined();
  });

  it("answers 404 for an unknown node and 400 for ?item on a node that is not a map", async () => {
    const runId = await finished("rescued");
    const unknown = await server.request("GET", `/v1/runs/${runId}/nodes/nope/attempts`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.detail).toBe(`run ${runId} has no node "nope"`);
    const notMap = await server.request("GET", `/v1/runs/${runId}/nodes/ask/attempts?item=0`);
    expect(notMap.status).toBe(400);
    expect(notMap.json.detail).toMatch(/not a map/);
    expect((await server.request("GET", "/v1/runs/nope/nodes/ask/attempts")).status).toBe(404);
  });
});
