import { describe, expect, it } from "vitest";
import type { ExecutionPlan } from "../../compiler/index.ts";
import type { NodeDelta } from "../../engine/broker/broker.ts";
import { type DeltaEventData, DeltaRelay, planStreams } from "../../server/routes/run-deltas.ts";

// Where node.delta events go among a stream's state events, decided with
// plain objects: sent after their attempt's node.running, held until the
// stream has reported it, dropped once it is over.

function relay(keepsUp = true) {
  const sent: DeltaEventData[] = [];
  let wakes = 0;
  const made = new DeltaRelay(
    (data) => sent.push(data),
    () => keepsUp,
    () => wakes++,
  );
  return { relay: made, sent, wakes: () => wakes };
}

function delta(text: string, fields: Partial<NodeDelta> = {}): NodeDelta {
  return { runId: "run-1", nodeId: "draft", item: null, attempt: 1, offset: 0, text, ...fields };
}

describe("DeltaRelay", () => {
  it("sends a delta of the attempt the stream reported running, in the event's shape", () => {
    const { relay: r, sent } = relay();
    r.nodeReported("draft", "running", 1);
    r.accept(delta("A bright", { offset: 4 }));
    r.accept(delta(" flat", { nodeId: "rooms", item: 2, attempt: 3 }));
    expect(sent).toEqual([{ runId: "run-1", nodeId: "draft", attempts: 1, offset: 4, text: "A bright" }]);
    r.nodeReported("rooms", "running", 1);
    r.release();
    expect(sent[1]).toEqual({
      runId: "run-1",
      nodeId: "rooms",
      item: 2,
      attempts: 3,
      offset: 0,
      text: " flat",
    });
  });

  it("holds a delta that comes before its node.running, asks for the state at once, and sends it after", () => {
    const { relay: r, sent, wakes } = relay();
    r.nodeReported("draft", "queued", 0);
    r.accept(delta("one "));
    r.accept(delta("two"));
    expect(sent).toEqual([]);
    expect(wakes()).toBeGreaterThan(0);
    r.release();
    expect(sent).toEqual([]);
    r.nodeReported("draft", "running", 1);
    r.release();
    expect(sent.map((d) => d.text)).toEqual(["one ", "two"]);
  });

  it("keeps an execution's deltas in order: a later one waits behind one held", () => {
    const { relay: r, sent } = relay();
    r.accept(delta("first "));
    r.nodeReported("draft", "running", 1);
    r.accept(delta("second"));
    expect(sent).toEqual([]);
    r.release();
    expect(sent.map((d) => d.text)).toEqual(["first ", "second"]);
  });

  it("drops deltas of a node that ended, of an earlier attempt, and of an attempt queued again", () => {
    const { relay: r, sent } = relay();
    r.nodeReported("draft", "running", 2);
    r.accept(delta("stale", { attempt: 1 }));
    r.nodeReported("draft", "queued", 2);
    r.accept(delta("over", { attempt: 2 }));
    r.nodeReported("draft", "succeeded", 3);
    r.accept(delta("late", { attempt: 3 }));
    r.release();
    expect(sent).toEqual([]);
  });

  it("drops what it held once the node turns out to have ended", () => {
    const { relay: r, sent } = relay();
    r.accept(delta("held"));
    r.nodeReported("draft", "running", 1);
    r.nodeReported("draft", "succeeded", 1);
    r.release();
    expect(sent).toEqual([]);
  });

  it("drops deltas for a client that does not keep up", () => {
    const { relay: r, sent } = relay(false);
    r.nodeReported("draft", "running", 1);
    r.accept(delta("unread"));
    expect(sent).toEqual([]);
  });

  it("holds at most 256 KiB: more is dropped, and the offsets show the gap", () => {
    const { relay: r, sent } = relay();
    const big = "x".repeat(100 * 1024);
    for (let i = 0; i < 4; i++) r.accept(delta(big, { offset: i * big.length }));
    r.nodeReported("draft", "running", 1);
    r.release();
    expect(sent.map((d) => d.offset)).toEqual([0, big.length]);
  });
});

describe("planStreams", () => {
  const plan = (nodes: Record<string, unknown>) => ({ nodes }) as unknown as ExecutionPlan;

  it("says whether a model node, or a map's template, streams", () => {
    expect(planStreams(plan({ a: { type: "transform" }, b: { type: "model", stream: false } }))).toBe(false);
    expect(planStreams(plan({ b: { type: "model" } }))).toBe(false);
    expect(planStreams(plan({ b: { type: "model", stream: true } }))).toBe(true);
    expect(planStreams(plan({ m: { type: "map", node: { type: "model", stream: true } } }))).toBe(true);
  });
});
