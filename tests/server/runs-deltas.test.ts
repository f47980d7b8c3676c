import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import {
  contentChunk,
  type FakeServer,
  type StreamSpec,
  startFakeServer,
  usageChunk,
} from "../engine/providers/fake-openai-server.ts";
import { type ReceivedEvent, readEventStream } from "../helpers/sse.ts";
import { ADMIN_KEY, type TestServer, testServer } from "./harness.ts";

// node.delta events of GET /v1/runs/{id}/events: an SSE client sees the text
// of a streaming node as the model (a real HTTP server speaking OpenAI's
// streaming API) writes it, between the node's running and succeeded events.

const PIECES = ["A bright ", "two-room ", "flat ", "with a ", "view of ", "the sea."];
const TEXT = PIECES.join("");

let fake: FakeServer;
let server: TestServer;

function liveModel(endpoint: string): string {
  return `apiVersion: pflow/v1
kind: Model
metadata: { name: live }
spec:
  versions:
    "1": { provider: openai, endpoint: "${endpoint}/v1", model: writer-7b }
`;
}

beforeAll(async () => {
  fake = await startFakeServer();
  server = await testServer({
    routes: [runRoutes],
    definitions: [
      liveModel(fake.url),
      mockModel("quiet", { "1": "response: { text: 'quiet words here' }, latency: 50ms" }),
      workflow(
        "listing",
        `    draft: { type: model, model: live, stream: true, input: { prompt: "{{ inputs.notes }}" } }
    label: { type: model, model: quiet, input: { prompt: "x" }, needs: [draft] }
`,
      ),
      workflow(
        "retried",
        `    draft:
      type: model
      model: live
      stream: true
      retry: { maxAttempts: 2, backoff: fixed, delay: 250ms }
      input: { prompt: "{{ inputs.notes }}" }
`,
      ),
      workflow(
        "unstreamed",
        `    draft: { type: model, model: live, input: { prompt: "{{ inputs.notes }}" } }
`,
      ),
    ],
  });
});
afterAll(async () => {
  await server.close();
  await fake.close();
});
beforeEach(() => fake.reset());

/** A gate the fake model waits at before it writes. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** The model's answers, in turn: each a stream of chunks, the model writing only once `after` opens. */
function modelStreams(...streams: StreamSpec[]): void {
  let call = 0;
  fake.respond(() => ({ stream: streams[Math.min(call++, streams.length - 1)] as StreamSpec }));
}

/** The default fake answers a prompt by echoing it; the whole text of that echo. */
function echoOf(notes: string): string {
  return `echo: ${notes}`;
}

function whole(after: Promise<void>): StreamSpec {
  return {
    events: [
      ...PIECES.map((piece, i) => contentChunk(piece, i === PIECES.length - 1 ? "stop" : null)),
      usageChunk(),
    ],
    after,
    chunkDelayMs: 5,
  };
}

async function start(name: string): Promise<string> {
  const response = await server.request("POST", `/v1/workflows/${name}/runs`, {
    body: { input: { notes: "two rooms, sea view" } },
  });
  expect(response.status).toBe(202);
  return response.json.id;
}

async function follow(runId: string, onEvent?: (event: ReceivedEvent) => void): Promise<ReceivedEvent[]> {
  const response = await fetch(`${server.url}/v1/runs/${runId}/events`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  expect(response.status).toBe(200);
  return readEventStream(response, onEvent);
}

const named = (events: readonly ReceivedEvent[], name: string, nodeId?: string) =>
  events.findIndex((e) => e.event === name && (nodeId === undefined || e.data.nodeId === nodeId));
const deltasOf = (events: readonly ReceivedEvent[]) => events.filter((e) => e.event === "node.delta");

describe("node.delta events", () => {
  it("relays the text as it is written, between node.running and node.succeeded with the whole text", async () => {
    const model = gate();
    modelStreams(whole(model.wait));
    const runId = await start("listing");
    const events = await follow(runId, (event) => {
      // The client is listening: now the model may write.
      if (event.event === "node.running" && event.data.nodeId === "draft") model.open();
    });

    const deltas = deltasOf(events);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.map((e) => e.data.text).join("")).toBe(TEXT);
    for (const delta of deltas) {
      expect(delta.id).toBeUndefined();
      expect(Object.keys(delta.data).sort()).toEqual(["attempts", "nodeId", "offset", "runId", "text"]);
      expect(delta.data).toMatchObject({ runId, nodeId: "draft", attempts: 1 });
    }
    expect(deltas.map((e) => e.data.offset)).toEqual(
      deltas.map((_, i) => deltas.slice(0, i).reduce((sum, e) => sum + e.data.text.length, 0)),
    );
    const running = named(events, "node.running", "draft");
    const succeeded = named(events, "node.succeeded", "draft");
    expect(running).toBeGreaterThanOrEqual(0);
    expect(events.indexOf(deltas[0] as ReceivedEvent)).toBeGreaterThan(running);
    expect(events.indexOf(deltas.at(-1) as ReceivedEvent)).toBeLessThan(succeeded);
    expect(events[succeeded]?.data.output).toEqual({ text: TEXT });
    // State events keep their ids, numbered without the deltas.
    const ids = events.filter((e) => e.event !== "node.delta").map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(events.at(-1)?.event).toBe("run.succeeded");
    // The node without stream sent none.
    expect(deltas.every((e) => e.data.nodeId === "draft")).toBe(true);
  });

  it("starts the text over for a retried attempt, and sends none of the failed one's after it", async () => {
    const first = gate();
    const cut: StreamSpec = {
      events: [contentChunk("A gloomy "), contentChunk("cellar")],
      ending: "end",
      after: first.wait,
    };
    modelStreams(cut, whole(Promise.resolve()));
    const runId = await start("retried");
    const events = await follow(runId, (event) => {
      if (event.event === "node.running" && event.data.attempts === 1) first.open();
    });

    const deltas = deltasOf(events);
    const ofAttempt = (attempt: number) =>
      deltas
        .filter((e) => e.data.attempts === attempt)
        .map((e) => e.data.text)
        .join("");
    expect(ofAttempt(1)).toBe("A gloomy cellar");
    expect(ofAttempt(2)).toBe(TEXT);
    const secondRunning = events.findIndex((e) => e.event === "node.running" && e.data.attempts === 2);
    expect(secondRunning).toBeGreaterThan(0);
    // The second attempt's text may reach the server before its node.running is read: it waits for it.
    const secondDeltas = deltas.filter((e) => e.data.attempts === 2).map((e) => events.indexOf(e));
    expect(Math.min(...secondDeltas)).toBeGreaterThan(secondRunning);
    const afterIt = events.slice(secondRunning);
    expect(afterIt.filter((e) => e.event === "node.delta").every((e) => e.data.attempts === 2)).toBe(true);
    expect(events[named(events, "node.succeeded", "draft")]?.data.output).toEqual({ text: TEXT });
  });

  it("sends no deltas for a node without stream", async () => {
    const runId = await start("unstreamed");
    const events = await follow(runId);
    expect(fake.requests[0]?.body).not.toHaveProperty("stream");
    expect(deltasOf(events)).toEqual([]);
    expect(events[named(events, "node.succeeded", "draft")]?.data.output).toEqual({
      text: echoOf("two rooms, sea view"),
    });
  });

  it("gives a client that connects after the run ended the history only: deltas are not replayed", async () => {
    modelStreams(whole(Promise.resolve()));
    const runId = await start("listing");
    await server.engine.waitForRun(runId, 10_000);
    const events = await follow(runId);
    expect(deltasOf(events)).toEqual([]);
    expect(events[named(events, "node.succeeded", "draft")]?.data.output).toEqual({ text: TEXT });
  });
});
