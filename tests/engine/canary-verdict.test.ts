import { describe, expect, it } from "vitest";
import type { AutoRollback, CompiledModel, ModelAlias } from "../../compiler/index.ts";
import { canarySince, figuresOf, judgeCanary, type VersionFigures } from "../../engine/canary-verdict.ts";
import { CALL_LATENCY_BOUNDS_MS, type ModelCalls } from "../../engine/store/records.ts";

// The decision of canary analysis, on plain values: no store, no clock.

const POLICY: AutoRollback = { maxErrorRateDelta: 0.05, maxP95Ratio: 1.5, minCalls: 100 };

function figures(version: string, calls: number, errorRate: number, p95Ms: number): VersionFigures {
  return { version, calls, errorRate, p95Ms };
}

describe("judgeCanary", () => {
  const base = figures("1", 900, 0.01, 400);

  it("waits until the canary and the base each have minCalls calls", () => {
    const verdict = judgeCanary(POLICY, figures("2", 99, 1, 90_000), base);
    expect(verdict.decision).toBe("wait");
    expect(verdict.reason).toBe("not judged yet: canary 2 has 99 and base 1 900 of the 100 calls each needs");
    // A base with too few calls is no yardstick either, however bad the canary.
    expect(judgeCanary(POLICY, figures("2", 500, 1, 90_000), figures("1", 12, 0, 400)).decision).toBe("wait");
  });

  it("keeps a canary within both limits, saying how close it is", () => {
    const verdict = judgeCanary(POLICY, figures("2", 100, 0.03, 500), base);
    expect(verdict).toEqual({
      decision: "keep",
      reason:
        "canary 2 is within limits: error rate 3.0% against 1.0% (at most 5 points above); p95 500 ms against 400 ms (at most 1.5×) (over 100 and 900 calls)",
      canary: figures("2", 100, 0.03, 500),
      base,
    });
  });

  it("rolls back a canary whose error rate exceeds the base's by more than the delta", () => {
    const verdict = judgeCanary(POLICY, figures("2", 120, 0.625, 420), base);
    expect(verdict.decision).toBe("roll-back");
    expect(verdict.reason).toBe(
      "canary 2 is worse than base 1: error rate 62.5% against 1.0%, more than 5 points above (over 120 and 900 calls)",
    );
  });

  it("rolls back a canary whose p95 is more than the ratio times the base's", () => {
    const verdict = judgeCanary(POLICY, figures("2", 120, 0.01, 2_500), base);
    expect(verdict.decision).toBe("roll-back");
    expect(verdict.reason).toBe(
      "canary 2 is worse than base 1: p95 2500 ms against 400 ms, more than 1.5× (over 120 and 900 calls)",
    );
  });

  it("names both when both are exceeded", () => {
    expect(judgeCanary(POLICY, figures("2", 120, 0.5, 2_500), base).reason).toBe(
      "canary 2 is worse than base 1: error rate 50.0% against 1.0%, more than 5 points above; p95 2500 ms against 400 ms, more than 1.5× (over 120 and 900 calls)",
    );
  });

  it("keeps a canary exactly at a limit (the limits are strict)", () => {
    expect(judgeCanary(POLICY, figures("2", 100, 0.06, 600), figures("1", 100, 0.01, 400)).decision).toBe(
      "keep",
    );
    // 0.07 - 0.02 is 0.05000000000000001 in floating point: still at the limit.
    expect(judgeCanary(POLICY, figures("2", 100, 0.07, 600), figures("1", 100, 0.02, 400)).decision).toBe(
      "keep",
    );
    expect(judgeCanary(POLICY, figures("2", 100, 0.0601, 600), figures("1", 100, 0.01, 400)).decision).toBe(
      "roll-back",
    );
    expect(judgeCanary(POLICY, figures("2", 100, 0.01, 600.1), figures("1", 100, 0.01, 400)).decision).toBe(
      "roll-back",
    );
  });

  it("checks only the thresholds the policy sets", () => {
    const errorsOnly = { ...POLICY, maxP95Ratio: null };
    const slow = figures("2", 200, 0.01, 60_000);
    expect(judgeCanary(errorsOnly, slow, base).decision).toBe("keep");
    expect(judgeCanary(errorsOnly, slow, base).reason).not.toContain("p95");
    const latencyOnly = { ...POLICY, maxErrorRateDelta: null };
    expect(judgeCanary(latencyOnly, figures("2", 200, 1, 400), base).decision).toBe("keep");
    expect(judgeCanary(latencyOnly, slow, base).decision).toBe("roll-back");
  });

  it("a canary better than its base is kept (a negative delta is fine)", () => {
    expect(judgeCanary(POLICY, figures("2", 100, 0, 100), figures("1", 100, 0.5, 4000)).decision).toBe(
      "keep",
    );
  });

  it("with maxErrorRateDelta 0, any canary error rate above the base's rolls it back", () => {
    const strict = { ...POLICY, maxErrorRateDelta: 0, maxP95Ratio: null };
    expect(judgeCanary(strict, figures("2", 100, 0.01, 1), figures("1", 100, 0.01, 1)).decision).toBe("keep");
    expect(judgeCanary(strict, figures("2", 100, 0.02, 1), figures("1", 100, 0.01, 1)).decision).toBe(
      "roll-back",
    );
  });
});

describe("figuresOf", () => {
  it("reads rates and the p95 from the Store's statistics", () => {
    const latency = new Array<number>(CALL_LATENCY_BOUNDS_MS.length + 1).fill(0);
    latency[2] = 100; // all in the 100–250 ms bucket
    const calls: ModelCalls = { calls: 100, errors: 25, timeouts: 5, latency };
    const read = figuresOf("2", calls);
    expect(read).toMatchObject({ version: "2", calls: 100, errorRate: 0.25 });
    expect(read.p95Ms).toBeCloseTo(100 + 150 * 0.95);
  });

  it("is null without calls", () => {
    expect(figuresOf("2", undefined)).toEqual({ version: "2", calls: 0, errorRate: null, p95Ms: null });
  });
});

describe("canarySince", () => {
  const version = (createdAt: number, aliases: Record<string, ModelAlias>) => ({
    createdAt,
    compiled: { aliases } as unknown as CompiledModel,
  });
  const canary = (base: string, version: string, percent = 10): ModelAlias => ({
    version: base,
    canary: { version, percent, autoRollback: POLICY },
  });
  const plain = (base: string): ModelAlias => ({ version: base, canary: null });

  it("is when the current base and canary were first set, through changes of percent and of other aliases", () => {
    const history = [
      version(100, { production: plain("1") }),
      version(200, { production: canary("1", "2", 5) }),
      version(300, { production: canary("1", "2", 20), stable: plain("1") }),
      version(400, { production: canary("1", "2", 20), stable: plain("2") }),
    ];
    expect(canarySince(history, "production")).toBe(200);
  });

  it("starts again with a new canary version or a new base", () => {
    expect(
      canarySince(
        [version(100, { production: canary("1", "2") }), version(200, { production: canary("1", "3") })],
        "production",
      ),
    ).toBe(200);
    expect(
      canarySince(
        [version(100, { production: canary("1", "3") }), version(200, { production: canary("2", "3") })],
        "production",
      ),
    ).toBe(200);
  });

  it("starts again after the canary was cleared and set again", () => {
    const history = [
      version(100, { production: canary("1", "2") }),
      version(200, { production: plain("1") }),
      version(300, { production: canary("1", "2") }),
    ];
    expect(canarySince(history, "production")).toBe(300);
  });

  it("is null when the alias has no canary now, or does not exist", () => {
    expect(
      canarySince(
        [version(100, { production: canary("1", "2") }), version(200, { production: plain("1") })],
        "production",
      ),
    ).toBeNull();
    expect(canarySince([version(100, { production: plain("1") })], "staging")).toBeNull();
    expect(canarySince([], "production")).toBeNull();
  });
});
