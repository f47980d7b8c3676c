import type { RetryPolicy } from "../compiler/index.ts";

/**
 * Delay before attempt `attempt + 1` after attempt `attempt` failed:
 * `delay` (fixed) or `delay × 2^(attempt−1)` (exponential), at most `maxDelay`;
 * with jitter, spread uniformly over ±50% so retries of many nodes do not
 * arrive together. `random` is injectable for tests.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = policy.backoff === "fixed" ? policy.delayMs : policy.delayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(base, policy.maxDelayMs);
  return policy.jitter ? Math.round(capped * (0.5 + random())) : capped;
}
