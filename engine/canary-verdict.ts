import type { AutoRollback, CompiledModel } from "../compiler/index.ts";
import { latencyQuantile } from "./store/model-calls.ts";
import type { ModelCalls } from "./store/records.ts";

/**
 * Canary analysis, the deciding half: pure functions over plain values, so
 * every rule is unit-tested without a store, a clock or a timer. The loop that
 * reads the statistics and acts on the verdict is canary-analysis.ts.
 *
 * Glossary: the *canary* is the version an alias sends `percent`% of new runs
 * to; the *base* is the alias's own version, which gets the rest; the
 * *policy* is the canary's `autoRollback`.
 */

/** One version's calls since the canary was set, as the verdict reads them. */
export interface VersionFigures {
  readonly version: string;
  readonly calls: number;
  /** Errors (timeouts included) over calls; null without calls. */
  readonly errorRate: number | null;
  /** ms, interpolated within the statistics' latency buckets; null without calls. */
  readonly p95Ms: number | null;
}

export type CanaryDecision = "wait" | "keep" | "roll-back";

export interface CanaryVerdict {
  /** wait: too few calls to judge; keep: within the policy so far; roll-back: worse than the base. */
  readonly decision: CanaryDecision;
  /** In words, for logs, the model's history and the health route. */
  readonly reason: string;
  readonly canary: VersionFigures;
  readonly base: VersionFigures;
}

export function figuresOf(version: string, calls: ModelCalls | undefined): VersionFigures {
  const n = calls?.calls ?? 0;
  return {
    version,
    calls: n,
    errorRate: n === 0 ? null : (calls?.errors ?? 0) / n,
    p95Ms: latencyQuantile(calls?.latency ?? [], 0.95),
  };
}

/**
 * Judges a canary against its base. Neither is judged before both have
 * `minCalls` calls: an error rate over a handful of calls is noise, and so is
 * a base's. Then the canary is rolled back if its error rate exceeds the
 * base's by more than `maxErrorRateDelta`, or its p95 is more than
 * `maxP95Ratio` times the base's (strictly: at the limit it stays).
 */
export function judgeCanary(
  policy: AutoRollback,
  canary: VersionFigures,
  base: VersionFigures,
): CanaryVerdict {
  const verdict = (decision: CanaryDecision, reason: string): CanaryVerdict => ({
    decision,
    reason,
    canary,
    base,
  });
  if (canary.calls < policy.minCalls || base.calls < policy.minCalls) {
    return verdict(
      "wait",
      `not judged yet: canary ${canary.version} has ${canary.calls} and base ${base.version} ${base.calls} of the ${policy.minCalls} calls each needs`,
    );
  }
  const over = `over ${canary.calls} and ${base.calls} calls`;
  const worse: string[] = [];
  const within: string[] = [];
  if (policy.maxErrorRateDelta !== null) {
    const canaryRate = canary.errorRate ?? 0;
    const baseRate = base.errorRate ?? 0;
    const compared = `error rate ${percent(canaryRate)} against ${percent(baseRate)}`;
    if (canaryRate - baseRate > policy.maxErrorRateDelta + ROUNDING)
      worse.push(`${compared}, more than ${points(policy.maxErrorRateDelta)} above`);
    else within.push(`${compared} (at most ${points(policy.maxErrorRateDelta)} above)`);
  }
  if (policy.maxP95Ratio !== null) {
    const canaryP95 = canary.p95Ms ?? 0;
    const baseP95 = base.p95Ms ?? 0;
    const compared = `p95 ${ms(canaryP95)} against ${ms(baseP95)}`;
    if (canaryP95 > policy.maxP95Ratio * baseP95 + ROUNDING)
      worse.push(`${compared}, more than ${policy.maxP95Ratio}×`);
    else within.push(`${compared} (at most ${policy.maxP95Ratio}×)`);
  }
  if (worse.length > 0) {
    return verdict(
      "roll-back",
      `canary ${canary.version} is worse than base ${base.version}: ${worse.join("; ")} (${over})`,
    );
  }
  return verdict("keep", `canary ${canary.version} is within limits: ${within.join("; ")} (${over})`);
}

/**
 * When the alias's current canary was set: the creation of the oldest version
 * of the Model document, in the unbroken run of latest versions, whose alias
 * has the same base and canary version. A change of `percent` or of the policy
 * keeps the count going (the versions compared are the same); a new base or
 * canary starts it again. `history` is every version, oldest first; null if
 * the latest has no canary on that alias.
 */
export function canarySince(
  history: readonly { readonly createdAt: number; readonly compiled: unknown }[],
  alias: string,
): number | null {
  const aliasOf = (record: { compiled: unknown }) => (record.compiled as CompiledModel).aliases[alias];
  const latest = history.at(-1);
  const current = latest ? aliasOf(latest) : undefined;
  if (!latest || !current?.canary) return null;
  let since = latest.createdAt;
  for (let i = history.length - 2; i >= 0; i--) {
    const then = aliasOf(history[i] as { compiled: unknown });
    if (then?.version !== current.version || then.canary?.version !== current.canary.version) break;
    since = (history[i] as { createdAt: number }).createdAt;
  }
  return since;
}

/** So that a canary exactly at a limit (7% against 2%, at most 5 points) is not over it by a float's rounding. */
const ROUNDING = 1e-9;

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

function points(delta: number): string {
  const value = Math.round(delta * 100_000) / 1000;
  return `${value} point${value === 1 ? "" : "s"}`;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
