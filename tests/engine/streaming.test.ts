import { afterEach, describe, expect, it } from "vitest";
import type { NodeDelta } from "../../engine/broker/broker.ts";
import type { RunJson } from "../../engine/run-view.ts";
import { type Harness, harness, mockModel, workflow } from "./harness.ts";

// Model nodes with stream: true on the embedded engine: the worker's deltas
// reach a subscriber of the run, and streaming changes nothing else.

const WRITER = mockModel("writer", {
  "1": `response: { text: "{{ 'A bright flat with ' & input.rooms & ' rooms and a view of the sea' }}" }, latency: 40ms`,
});

const DEFINITIONS = [
  WRITER,
  workflow(
    "drafts",
    `    streamed: { type: model, model: writer, stream: true, input: { rooms: "{{ inputs.rooms }}" } }
    quiet: { type: model, model: writer, input: { rooms: "{{ inputs.rooms }}" } }
`,
  ),
  workflow(
    "cached",
    `    draft: { type: model, model: writer, stream: true, cache: true, input: { rooms: "{{ inputs.rooms }}" } }
`,
  ),
  workflow(
    "rooms",
    `    each:
      type: map
      items: "{{ inputs.counts }}"
      node: { type: model, model: writer, stream: true, input: { rooms: "{{ item }}" } }
`,
  ),
];

let open: Harness | undefined;
let working = false;
afterEach(async () => {
  await open?.close();
  open = undefined;
  working = false;
});

/**
 * Runs a workflow with a subscriber listening before the first worker starts
 * (later runs: before the in-process broker hands their first task to one),
 * so no delta can be missed: the finished run and every delta it streamed.
 */
async function runListening(name: string, input: unknown): Promise<{ run: RunJson; deltas: NodeDelta[] }> {
  open ??= await harness(DEFINITIONS, { start: false });
  const { engine } = open;
  const started = await engine.startRun({ workflow: name, input });
  const deltas: NodeDelta[] = [];
  const subscription = await engine.services.broker.subscribeDeltas(started.id, (delta) =>
    deltas.push(delta),
  );
  if (!working) await engine.start({ recoverAllLeases: true });
  working = true;
  await engine.waitForRun(started.id, 20_000);
  await subscription.close();
  return { run: (await engine.runJson(started.id)) as RunJson, deltas };
}

const textOf = (deltas: readonly NodeDelta[]) => deltas.map((delta) => delta.text).join("");

describe("stream: true", () => {
  it("streams the node's text as deltas, and only that node's", async () => {
    const { run, deltas } = await runListening("drafts", { rooms: 3 });
    expect(run.status).toBe("succeeded");
    const text = "A bright flat with 3 rooms and a view of the sea";
    expect(run.nodes.streamed?.output).toEqual({ text });
    expect(new Set(deltas.map((delta) => delta.nodeId))).toEqual(new Set(["streamed"]));
    expect(textOf(deltas)).toBe(text);
    expect(
      deltas.every((delta) => delta.runId === run.id && delta.item === null && delta.attempt === 1),
    ).toBe(true);
    let offset = 0;
    for (const delta of deltas) {
      expect(delta.offset).toBe(offset);
      offset += delta.text.length;
    }
  });

  it("changes nothing else: output, usage, cost and caching are as without streaming", async () => {
    const { run } = await runListening("drafts", { rooms: 4 });
    const { streamed, quiet } = run.nodes;
    expect(streamed?.output).toEqual(quiet?.output);
    expect(streamed?.usage).toEqual(quiet?.usage);
    expect(streamed?.cached).toBe(false);
    expect(streamed?.attempts).toBe(1);
  });

  it("sends no deltas for a cache hit", async () => {
    const first = await runListening("cached", { rooms: 5 });
    expect(textOf(first.deltas)).toBe("A bright flat with 5 rooms and a view of the sea");
    const second = await runListening("cached", { rooms: 5 });
    expect(second.run.nodes.draft?.cached).toBe(true);
    expect(second.run.nodes.draft?.output).toEqual(first.run.nodes.draft?.output);
    expect(second.deltas).toEqual([]);
  });

  it("streams each item of a map, its deltas carrying the item's index", async () => {
    const { run, deltas } = await runListening("rooms", { counts: [1, 2, 3] });
    expect(run.status).toBe("succeeded");
    const outputs = run.nodes.each?.output as { text: string }[];
    for (const index of [0, 1, 2]) {
      const mine = deltas.filter((delta) => delta.item === index);
      expect(mine.every((delta) => delta.nodeId === "each")).toBe(true);
      expect(textOf(mine)).toBe(outputs[index]?.text);
    }
  });
});
