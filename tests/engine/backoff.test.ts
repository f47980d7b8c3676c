import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../../engine/backoff.ts";

describe("retry backoff", () => {
  const policy = {
    maxAttempts: 5,
    backoff: "exponential",
    delayMs: 100,
    maxDelayMs: 1000,
    jitter: false,
  } as const;
  it("doubles from delay up to maxDelay", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => retryDelayMs(policy, attempt))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
  });
  it("is flat when fixed", () => {
    expect(retryDelayMs({ ...policy, backoff: "fixed" }, 4)).toBe(100);
  });
  it("spreads by ±50% with jitter", () => {
    expect(retryDelayMs({ ...policy, jitter: true }, 2, () => 0)).toBe(100);
    expect(retryDelayMs({ ...policy, jitter: true }, 2, () => 0.999)).toBe(300);
  });
});
