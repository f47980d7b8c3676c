import pino from "pino";
import { describe, expect, it } from "vitest";
import { ModelCallRecorder } from "../../engine/model-call-recorder.ts";
import { addCalls, latencyBucket, latencyQuantile } from "../../engine/store/model-calls.ts";
import type { ModelCallSample } from "../../engine/store/records.ts";
import type { Store } from "../../engine/store/store.ts";

// Model call statistics: buckets, quantiles, and the recorder that batches a
// process's calls into the Store.

function latency(counts: Record<number, number>): number[] {
  return Array.from({ length: 12 }, (_, bucket) => counts[bucket] ?? 0);
}

describe("latency buckets and quantiles", () => {
  it("puts a latency in the first bucket whose bound it does not exceed, and the rest in the last", () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(50)).toBe(0);
    expect(latencyBucket(51)).toBe(1);
    expect(latencyBucket(120_000)).toBe(10);
    expect(latencyBucket(120_001)).toBe(11);
  });

  it("interpolates a quantile within its bucket, as Prometheus does, and answers null without calls", () => {
    // 10 calls in 100–250 ms: the median is halfway through the bucket.
    expect(latencyQuantile(latency({ 2: 10 }), 0.5)).toBe(175);
    expect(latencyQuantile(latency({ 0: 50, 5: 50 }), 0.25)).toBe(25);
    expect(latencyQuantile(latency({ 0: 50, 5: 50 }), 0.99)).toBeCloseTo(1_000 + 1_500 * 0.98);
    // The unbounded bucket answers its lower bound.
    expect(latencyQuantile(latency({ 11: 3 }), 0.5)).toBe(120_000);
    expect(latencyQuantile(latency({}), 0.5)).toBeNull();
  });

  it("adds statistics bucket by bucket", () => {
    const a = { calls: 2, errors: 1, timeouts: 0, latency: latency({ 1: 2 }) };
    const b = { calls: 3, errors: 1, timeouts: 1, latency: latency({ 1: 1, 4: 2 }) };
    expect(addCalls(a, b)).toEqual({ calls: 5, errors: 2, timeouts: 1, latency: latency({ 1: 3, 4: 2 }) });
  });
});

describe("ModelCallRecorder", () => {
  function fakeStore(fail: () => boolean): { store: Store; written: ModelCallSample[][] } {
    const written: ModelCallSample[][] = [];
    const store = {
      async recordModelCalls(samples: readonly ModelCallSample[]) {
        if (fail()) throw new Error("store unreachable");
        written.push(samples.map((sample) => ({ ...sample, latency: [...sample.latency] })));
      },
    } as unknown as Store;
    return { store, written };
  }

  it("writes one sample per model version and minute, whatever the number of calls", async () => {
    const { store, written } = fakeStore(() => false);
    const recorder = new ModelCallRecorder(store, pino({ level: "silent" }));
    const t = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
    recorder.record("writer@1", t + 1_000, 120, "ok");
    recorder.record("writer@1", t + 2_000, 40, "error");
    recorder.record("writer@1", t + 61_000, 40, "timeout");
    recorder.record("writer@2", t + 3_000, 400, "ok");
    await recorder.flush();
    expect(written).toHaveLength(1);
    const byKey = Object.fromEntries(
      written[0]?.map((sample) => [`${sample.model}|${sample.minute}`, sample]) ?? [],
    );
    expect(byKey[`writer@1|${t}`]).toMatchObject({
      calls: 2,
      errors: 1,
      timeouts: 0,
      latency: latency({ 0: 1, 2: 1 }),
    });
    expect(byKey[`writer@1|${t + 60_000}`]).toMatchObject({ calls: 1, errors: 1, timeouts: 1 });
    expect(byKey[`writer@2|${t}`]).toMatchObject({ calls: 1, errors: 0 });
    await recorder.flush();
    expect(written).toHaveLength(1);
  });

  it("keeps what a failed flush could not write, merged with later calls, for the next flush", async () => {
    let down = true;
    const { store, written } = fakeStore(() => down);
    const recorder = new ModelCallRecorder(store, pino({ level: "silent" }));
    recorder.record("writer@1", 0, 10, "ok");
    await recorder.flush();
    recorder.record("writer@1", 0, 10, "error");
    down = false;
    await recorder.stop();
    expect(written).toEqual([[expect.objectContaining({ model: "writer@1", calls: 2, errors: 1 })]]);
  });
});
