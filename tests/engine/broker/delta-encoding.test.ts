import { describe, expect, it } from "vitest";
import { decodeDelta, encodeDelta } from "../../../engine/broker/amqp/delta-fanout.ts";

// Adapter-only: how a delta travels as a RabbitMQ message body. The contract
// (tests/contract/broker-deltas.ts) checks deltas arrive as published; this
// checks that what is not a delta is refused rather than relayed.

const DELTA = { runId: "run-1", nodeId: "rooms", item: 2, attempt: 1, offset: 12, text: "Bath «room» ✓\n" };

describe("delta messages", () => {
  it("decode to the delta that was encoded, and nothing more", () => {
    expect(decodeDelta(encodeDelta(DELTA))).toEqual(DELTA);
    expect(decodeDelta(encodeDelta({ ...DELTA, item: null }))).toEqual({ ...DELTA, item: null });
    const extra = Buffer.from(JSON.stringify({ ...DELTA, secret: "x" }));
    expect(decodeDelta(extra)).toEqual(DELTA);
  });

  it("refuse a body that is not a delta", () => {
    for (const body of ["not json", "null", "[1,2]", JSON.stringify({ ...DELTA, text: 5 })]) {
      expect(decodeDelta(Buffer.from(body))).toBeNull();
    }
    expect(decodeDelta(Buffer.from(JSON.stringify({ ...DELTA, item: 1.5 })))).toBeNull();
    expect(decodeDelta(Buffer.from(JSON.stringify({ ...DELTA, offset: undefined })))).toBeNull();
  });
});
