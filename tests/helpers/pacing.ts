import { expect } from "vitest";

/**
 * Calls paced one every `intervalMs`, none before its slot: the slots start at
 * or after `started` and are an interval apart, so the k-th call to arrive came
 * at least k intervals after `started`, however late any call was (a
 * millisecond's leeway: a wait shorter than that is not waited).
 */
export function expectPaced(arrivals: readonly number[], started: number, intervalMs: number): void {
  arrivals.forEach((at, k) => {
    expect(at - started, `call ${k + 1} of ${arrivals.length}`).toBeGreaterThanOrEqual(k * intervalMs - 1);
  });
}
