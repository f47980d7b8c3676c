import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../../engine/backoff.ts";
import { bucket } from "../../engine/pinning.ts";
import { UserSchemas } from "../../engine/user-schemas.ts";
import { truthy } from "../../engine/worker.ts";

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

describe("canary buckets", () => {
  it("are stable per run and spread over runs", () => {
    expect(bucket("run-1", "m@production")).toBe(bucket("run-1", "m@production"));
    const below = Array.from({ length: 2000 }, (_, i) => bucket(`run-${i}`, "m")).filter(
      (b) => b < 10,
    ).length;
    expect(below).toBeGreaterThan(120);
    expect(below).toBeLessThan(280);
  });
});

describe("when truthiness follows JSONata's $boolean", () => {
  it.each([
    [false, false],
    [null, false],
    [0, false],
    ["", false],
    [[], false],
    [{}, false],
    [[0, false], false],
    [true, true],
    [1, true],
    ["no", true],
    [[0, 1], true],
    [{ a: 1 }, true],
  ])("%j → %s", (value, expected) => {
    expect(truthy(value)).toBe(expected);
  });
});

describe("user schemas", () => {
  it("two different schemas that share an $id do not collide", () => {
    const schemas = new UserSchemas();
    expect(schemas.validate({ $id: "https://example.com/out.json", type: "string" }, "a")).toEqual([]);
    expect(schemas.validate({ $id: "https://example.com/out.json", type: "number" }, "a")).toEqual([
      { path: "/", message: "must be number" },
    ]);
  });
});
