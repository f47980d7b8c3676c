import { CALL_LATENCY_BOUNDS_MS, type ModelCalls } from "./records.ts";

/** Model call statistics added up, bucket by bucket (for adapters and readers alike). */
export function addCalls(a: ModelCalls, b: ModelCalls): ModelCalls {
  const latency = new Array<number>(CALL_LATENCY_BOUNDS_MS.length + 1);
  for (let i = 0; i < latency.length; i++) latency[i] = (a.latency[i] ?? 0) + (b.latency[i] ?? 0);
  return {
    calls: a.calls + b.calls,
    errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts,
    latency,
  };
}

/** The bucket a latency falls in. */
export function latencyBucket(ms: number): number {
  const index = CALL_LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? CALL_LATENCY_BOUNDS_MS.length : index;
}

/**
 * The q-quantile (0–1) of the latencies, in ms, interpolated within its bucket
 * as Prometheus's histogram_quantile does; the unbounded bucket answers its
 * lower bound. null without calls.
 */
export function latencyQuantile(latency: readonly number[], q: number): number | null {
  const total = latency.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < latency.length; i++) {
    const count = latency[i] ?? 0;
    if (count > 0 && seen + count >= rank) {
      const lower = i === 0 ? 0 : (CALL_LATENCY_BOUNDS_MS[i - 1] as number);
      const upper = CALL_LATENCY_BOUNDS_MS[i];
      if (upper === undefined) return lower;
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return CALL_LATENCY_BOUNDS_MS.at(-1) as number;
}
