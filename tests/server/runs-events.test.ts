import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import { ADMIN_KEY, type TestServer, testServer } from "./harness.ts";

// GET /v1/runs/{id}/events: server-sent events from the run's history, the
// history first, then live, closing after the run's final event.

const DEFINITIONS = [
  workflow(
    "story",
    `    draft: { type: model, model: sleepy }
    polish: { type: transform, expr: "'polished'", needs: [draft] }
`,
  ),
  workflow("doomed", `    try: { type: model, model: broken }\n`),
  workflow("endless", `    wait: { type: model, model: endless }\n`),
  mockModel("sleepy", { "1": "response: { text: 'draft' }, latency: 300ms" }),
  mockModel("broken", { "1": 'error: "the model refused"' }),
  mockModel("endless", { "1": "response: { ok: true }, latency: 30s" }),
];

interface ServerSentEvent {
  readonly id: number;
  readonly event: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read event data freely
  readonly data: any;
}

let server: TestServer;
beforeAll(async () => {
  server = await testServer({ definitions: DEFINITIONS, routes: [runRoutes] });
});
afterAll(async () => {
  await server.close();
});

function parseEvents(text: string): ServerSentEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "" && !block.startsWith(":"))
    .map((block) => {
      const fields = new Map(
        block
          .split("\n")
          .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
      );
      return {
        id: Number(fields.get("id")),
        event: fields.get("event") ?? "",
        data: JSON.parse(fields.get("data") ?? "null"),
      };
    });
}

/** Opens the stream and reads it to its end; `firstChunk` is called with the status of the run when the first bytes arrive. */
async function follow(
  target: TestServer,
  runId: string,
  firstChunk?: (runStatus: string | undefined) => void,
  options: { query?: string; headers?: Record<string, string> } = {},
): Promise<{ response: Response; events: ServerSentEvent[] }> {
  const response = await fetch(`${target.url}/v1/runs/${runId}/events${options.query ?? ""}`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...options.headers },
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  let first = true;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (first && value.length > 0) {
      first = false;
      firstChunk?.((await target.engine.services.store.getRun(runId))?.status);
    }
    text += decoder.decode(value, { stream: true });
  }
  return { response, events: parseEvents(text) };
}

async function start(name: string, query = ""): Promise<string> {
  const response = await server.request("POST", `/v1/workflows/${name}/runs${query}`, { body: {} });
  return response.json.id;
}

/** The run's and its nodes' state changes (no run.created, node.queued or attempt events). */
function withoutQueued(events: readonly ServerSentEvent[]): string[] {
  return events
    .filter((e) => /^(run|node)\./.test(e.event) && e.event !== "node.queued" && e.event !== "run.created")
    .map((e) => `${e.event} ${e.data.nodeId ?? ""}`.trim());
}

const STORY_EVENTS = [
  "run.running",
  "node.running draft",
  "node.succeeded draft",
  "node.running polish",
  "node.succeeded polish",
  "run.succeeded",
];

describe("GET /v1/runs/{id}/events", () => {
  it("follows a run live, then closes after run.succeeded", async () => {
    const runId = await start("story");
    let statusAtFirstEvent: string | undefined;
    const { response, events } = await follow(server, runId, (status) => {
      statusAtFirstEvent = status;
    });
    expect(statusAtFirstEvent).toBe("running");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    // The headers every reply gets (helmet's, the rate limit's) survive taking over the response.
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-ratelimit-limit")).not.toBeNull();
    expect(withoutQueued(events)).toEqual(STORY_EVENTS);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const times = events.map((e) => Date.parse(e.data.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    const draftDone = events.find((e) => e.event === "node.succeeded" && e.data.nodeId === "draft");
    expect(draftDone?.data).toEqual({
      seq: draftDone?.id,
      type: "node.succeeded",
      round: 1,
      attempt: 1,
      data: { output: { text: "draft" } },
      runId,
      nodeId: "draft",
      status: "succeeded",
      at: expect.any(String),
      attempts: 1,
      output: { text: "draft" },
    });
    expect(events.at(-1)?.data).toMatchObject({
      runId,
      status: "succeeded",
      at: (await server.engine.runJson(runId))?.finishedAt,
      output: { polish: "polished" },
    });
  });

  it("gives a client that connects after the end the whole history, then closes", async () => {
    const runId = await start("story", "?wait=5");
    const { events } = await follow(server, runId);
    expect(withoutQueued(events)).toEqual(STORY_EVENTS);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const run = await server.engine.runJson(runId);
    expect(events.find((e) => e.event === "node.running")?.data.at).toBe(run?.nodes.draft?.startedAt);
    expect(events.find((e) => e.event === "run.running")?.data.at).toBe(run?.startedAt);
  });

  it("reports a failure with its error", async () => {
    const runId = await start("doomed", "?wait=5");
    const { events } = await follow(server, runId);
    expect(withoutQueued(events)).toEqual([
      "run.running",
      "node.running try",
      "node.failed try",
      "run.failed",
    ]);
    expect(events.at(-2)?.data.error).toEqual({ code: "mock-error", message: "the model refused" });
    expect(events.at(-1)?.data.error).toMatchObject({ code: "node-failed" });
  });

  it("reports a cancelled run's nodes before the run", async () => {
    const runId = await start("endless");
    const following = follow(server, runId);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await server.request("POST", `/v1/runs/${runId}/cancel`)).status).toBe(202);
    const { events } = await following;
    expect(withoutQueued(events)).toEqual([
      "run.running",
      "node.running wait",
      "node.cancelled wait",
      "run.cancelled",
    ]);
    expect(events.at(-1)?.data.error).toEqual({ code: "cancelled", message: "the run was cancelled" });
  });

  it("answers 404 as a problem for an unknown run, before any stream", async () => {
    const response = await server.request("GET", "/v1/runs/no-such-run/events");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(response.json.detail).toBe('no run "no-such-run"');
  });

  it("answers 401 without a key", async () => {
    const response = await server.request("GET", "/v1/runs/no-such-run/events", { key: null });
    expect(response.status).toBe(401);
  });

  it("stops following when the client goes away", async () => {
    const runId = await start("endless");
    const aborter = new AbortController();
    const response = await fetch(`${server.url}/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      signal: aborter.signal,
    });
    expect(response.status).toBe(200);
    const polls = vi.spyOn(server.engine.services.store, "listHistory");
    const pollsOfRun = () => polls.mock.calls.filter(([id]) => id === runId).length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pollsOfRun()).toBeGreaterThan(0);
    aborter.abort();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const afterLeaving = pollsOfRun();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pollsOfRun()).toBe(afterLeaving);
    polls.mockRestore();
    await server.request("POST", `/v1/runs/${runId}/cancel`);
  });

  it("ends open streams when the server closes, instead of waiting for their runs", async () => {
    const closing = await testServer({
      definitions: [
        workflow("lingering", `    wait: { type: model, model: lingering }\n`),
        mockModel("lingering", { "1": "response: { ok: true }, latency: 1500ms" }),
      ],
      routes: [runRoutes],
    });
    const response = await closing.request("POST", "/v1/workflows/lingering/runs", { body: {} });
    const following = follow(closing, response.json.id);
    await new Promise((resolve) => setTimeout(resolve, 150));
    // The engine lets the node in hand finish, so close() takes the node's time; the stream ends before.
    const closed = closing.close();
    const { events } = await following;
    expect(withoutQueued(events)).toEqual(["run.running", "node.running wait"]);
    await closed;
  });

  it("resumes exactly after Last-Event-ID, given as the header or the query", async () => {
    const runId = await start("story", "?wait=5");
    const { events: all } = await follow(server, runId);
    const { events: fromHeader } = await follow(server, runId, undefined, {
      headers: { "last-event-id": "4" },
    });
    expect(fromHeader.map((e) => e.id)).toEqual(all.slice(4).map((e) => e.id));
    expect(fromHeader[0]?.id).toBe(5);
    const { events: fromQuery } = await follow(server, runId, undefined, { query: "?lastEventId=7" });
    expect(fromQuery).toEqual(all.slice(7));
    // After the last event of an ended run: nothing more, and the stream closes.
    const { events: none } = await follow(server, runId, undefined, { query: `?lastEventId=${all.length}` });
    expect(none).toEqual([]);
  });

  it("refuses a Last-Event-ID that is not an event id", async () => {
    const runId = await start("story", "?wait=5");
    const response = await fetch(`${server.url}/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "last-event-id": "abc" },
    });
    expect(response.status).toBe(400);
    const byQuery = await server.request("GET", `/v1/runs/${runId}/events?lastEventId=-1`);
    expect(byQuery.status).toBe(400);
  });

  it("shows every round after a retry, and resumes into the new one", async () => {
    const runId = await start("doomed", "?wait=5");
    const { events: first } = await follow(server, runId);
    expect((await server.request("POST", `/v1/runs/${runId}/retry`)).status).toBe(202);
    const { events } = await follow(server, runId, undefined, {
      headers: { "last-event-id": String(first.length) },
    });
    expect(events[0]?.event).toBe("run.retried");
    expect(events.every((e) => e.data.round === 2)).toBe(true);
    expect(events.at(-1)?.event).toBe("run.failed");
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => first.length + i + 1));
  });

  it("reads the store once per run however many clients follow it", async () => {
    const runId = await start("endless");
    const reads = vi.spyOn(server.engine.services.store, "listHistory");
    const readsOfRun = () => reads.mock.calls.filter(([id]) => id === runId).length;
    const clients = Array.from({ length: 20 }, () => new AbortController());
    const responses = await Promise.all(
      clients.map((client) =>
        fetch(`${server.url}/v1/runs/${runId}/events`, {
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
          signal: client.signal,
        }),
      ),
    );
    expect(responses.every((response) => response.status === 200)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const start0 = readsOfRun();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // One follower polls every 250 ms: about 4 reads a second, not 4 per client.
    expect(readsOfRun() - start0).toBeLessThanOrEqual(8);
    for (const client of clients) client.abort();
    reads.mockRestore();
    await server.request("POST", `/v1/runs/${runId}/cancel`);
  });
});
