import { describe, expect, it } from "vitest";
import { bucket } from "../../engine/pinning.ts";

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
