import { afterEach, describe, expect, it } from "vitest";
import { type ReceivedEvent, readEventStream } from "../helpers/sse.ts";
import { Cluster } from "./cluster.ts";

/**
 * Streaming across processes: the API (`pflow serve --no-workers`) and the
 * worker (`pflow worker`) are separate processes on RabbitMQ and the
 * MongoDB-wire store, and an SSE client of the API still sees the text the
 * worker's model writes, as node.delta events, before node.succeeded.
 */
const WORDS = Array.from({ length: 24 }, (_, i) => `word${i}`);
const TEXT = WORDS.join(" ");

const DEFINITIONS = `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: mock, latency: 1200ms, response: { text: "${TEXT}" } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: story }
spec:
  nodes:
    draft: { type: model, model: writer, stream: true, input: { prompt: "{{ inputs.topic }}" } }
    quiet: { type: model, model: writer, input: { prompt: "{{ inputs.topic }}" }, needs: [draft] }
`;

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe("node.delta events across processes", { timeout: 120_000 }, () => {
  it("relays the text a worker process streams to the SSE client of an API process", async () => {
    cluster = await Cluster.start(DEFINITIONS);
    const c = cluster;
    await c.serve({ workers: false });
    const runId = await c.startRun("story", { topic: "the sea" });

    // The client follows the run before any worker exists, so none of the text can come before it listens.
    let workerStarting: Promise<unknown> | undefined;
    const response = await fetch(`${c.api}/v1/runs/${runId}/events`);
    expect(response.status).toBe(200);
    const events = await readEventStream(response, (event) => {
      if (event.event === "node.queued" && event.data.nodeId === "draft") workerStarting ??= c.worker();
    });
    await workerStarting;

    const deltas = events.filter((e) => e.event === "node.delta");
    expect(deltas.map((e) => e.data.text).join("")).toBe(TEXT);
    expect(deltas.length).toBeGreaterThan(1);
    for (const delta of deltas) {
      expect(delta.id).toBeUndefined();
      expect(delta.data).toMatchObject({ runId, nodeId: "draft", attempts: 1 });
    }
    const at = (name: string, nodeId: string) =>
      events.findIndex((e: ReceivedEvent) => e.event === name && e.data.nodeId === nodeId);
    expect(events.indexOf(deltas[0] as ReceivedEvent)).toBeGreaterThan(at("node.running", "draft"));
    expect(events.indexOf(deltas.at(-1) as ReceivedEvent)).toBeLessThan(at("node.succeeded", "draft"));
    expect(events[at("node.succeeded", "draft")]?.data.output).toEqual({ text: TEXT });
    expect(events[at("node.succeeded", "quiet")]?.data.output).toEqual({ text: TEXT });
    expect(events.at(-1)?.event).toBe("run.succeeded");
  });
});
