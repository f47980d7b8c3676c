import { describe, expect, it } from "vitest";
import type { NodeDelta } from "../../engine/broker/broker.ts";
import { DeltaBatcher } from "../../engine/delta-batcher.ts";
import { waitFor } from "../contract/wait-for.ts";

// The batcher between a streaming provider and the Broker: fewer, larger
// deltas, in order, their offsets adding up to the attempt's text.

const ORIGIN = { runId: "run-1", nodeId: "draft", item: null, attempt: 2 };
/** A flush interval no test waits for: only size and close() flush. */
const NEVER = 3_600_000;

function recording(): { sent: NodeDelta[]; publish: (deltas: readonly NodeDelta[]) => Promise<void> } {
  const sent: NodeDelta[] = [];
  return { sent, publish: async (deltas) => void sent.push(...deltas) };
}

describe("DeltaBatcher", () => {
  it("sends the pieces pushed within one interval as one delta", async () => {
    const { sent, publish } = recording();
    const batcher = new DeltaBatcher(publish, ORIGIN, { flushMs: 20 });
    for (const piece of ["A ", "bright ", "flat"]) batcher.push(piece);
    await waitFor(() => sent.length > 0, "the timed flush");
    expect(sent).toEqual([{ ...ORIGIN, offset: 0, text: "A bright flat" }]);
    await batcher.close();
    expect(sent).toHaveLength(1);
  });

  it("sends at once when the held text reaches the size limit, with offsets that add up", async () => {
    const { sent, publish } = recording();
    const batcher = new DeltaBatcher(publish, ORIGIN, { flushMs: NEVER, maxChars: 10 });
    const pieces = ["0123", "4567", "89ab", "cdef", "ghij", "kl"];
    for (const piece of pieces) batcher.push(piece);
    await waitFor(() => sent.length >= 2, "two deltas by size");
    await batcher.close();
    expect(sent.map((delta) => delta.text).join("")).toBe(pieces.join(""));
    for (const [i, delta] of sent.entries()) {
      expect(delta.offset).toBe(sent.slice(0, i).reduce((sum, each) => sum + each.text.length, 0));
    }
    expect(sent[0]).toEqual({ ...ORIGIN, offset: 0, text: "0123456789ab" });
  });

  it("holds text while a publish is in flight and sends it all with the next", async () => {
    const sent: NodeDelta[] = [];
    let release = () => {};
    const publish = async (deltas: readonly NodeDelta[]) => {
      sent.push(...deltas);
      if (sent.length === 1) await new Promise<void>((resolve) => (release = resolve));
    };
    const batcher = new DeltaBatcher(publish, ORIGIN, { flushMs: NEVER, maxChars: 3 });
    batcher.push("one");
    for (const piece of ["two", "three", "four"]) batcher.push(piece);
    expect(sent.map((delta) => delta.text)).toEqual(["one"]);
    release();
    await batcher.close();
    expect(sent.map((delta) => delta.text)).toEqual(["one", "twothreefour"]);
    expect(sent[1]?.offset).toBe(3);
  });

  it("close() sends what is held, and nothing is sent after it", async () => {
    const { sent, publish } = recording();
    const batcher = new DeltaBatcher(publish, ORIGIN, { flushMs: NEVER });
    batcher.push("last words");
    await batcher.close();
    batcher.push("too late");
    await batcher.close();
    expect(sent).toEqual([{ ...ORIGIN, offset: 0, text: "last words" }]);
  });

  it("close() gives up on a publish that never ends, after its wait", async () => {
    const batcher = new DeltaBatcher(() => new Promise(() => {}), ORIGIN, {
      flushMs: NEVER,
      closeWaitMs: 50,
    });
    batcher.push("lost");
    await expect(batcher.close()).resolves.toBeUndefined();
  });

  it("survives a publish that rejects, and goes on with the next", async () => {
    const sent: string[] = [];
    let calls = 0;
    const publish = async (deltas: readonly NodeDelta[]) => {
      calls++;
      if (calls === 1) throw new Error("broker down");
      sent.push(...deltas.map((delta) => delta.text));
    };
    const batcher = new DeltaBatcher(publish, ORIGIN, { flushMs: NEVER, maxChars: 2 });
    batcher.push("ab");
    batcher.push("cd");
    await batcher.close();
    expect(sent).toEqual(["cd"]);
  });
});
