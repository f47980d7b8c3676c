import type { AutoRollback, CompiledModel } from "../compiler/index.ts";

/**
 * What changed between two versions of a Model document, in words an auditor
 * reads: aliases promoted or rolled back, canaries set, changed or cleared,
 * versions added, removed or moved to another stage. The registry keeps every
 * version of the document (an alias move is a new version), so the history of
 * a model is these differences, newest first, each with who and when.
 */
export function modelChanges(before: CompiledModel | null, after: CompiledModel): string[] {
  if (before === null) return ["registered"];
  const changes: string[] = [];
  for (const key of Object.keys(after.versions)) {
    if (!(key in before.versions)) changes.push(`version ${key} added`);
    else if ((before.versions[key]?.stage ?? "active") !== (after.versions[key]?.stage ?? "active")) {
      changes.push(
        `version ${key}: ${before.versions[key]?.stage ?? "active"} → ${after.versions[key]?.stage ?? "active"}`,
      );
    }
  }
  for (const key of Object.keys(before.versions))
    if (!(key in after.versions)) changes.push(`version ${key} removed`);
  for (const [alias, now] of Object.entries(after.aliases)) {
    const then = before.aliases[alias];
    if (then === undefined) changes.push(`alias ${alias} added → ${now.version}`);
    else if (then.version !== now.version) changes.push(`alias ${alias}: ${then.version} → ${now.version}`);
    const thenCanary = then?.canary ?? null;
    const nowCanary = now.canary;
    if (thenCanary === null && nowCanary !== null) {
      changes.push(
        `alias ${alias}: canary ${nowCanary.version} at ${nowCanary.percent}%${policyWords(nowCanary.autoRollback)}`,
      );
    } else if (thenCanary !== null && nowCanary === null) {
      changes.push(`alias ${alias}: canary ${thenCanary.version} cleared`);
    } else if (
      thenCanary &&
      nowCanary &&
      (thenCanary.version !== nowCanary.version || thenCanary.percent !== nowCanary.percent)
    ) {
      changes.push(
        `alias ${alias}: canary ${thenCanary.version} at ${thenCanary.percent}% → ${nowCanary.version} at ${nowCanary.percent}%`,
      );
    }
    if (
      thenCanary &&
      nowCanary &&
      JSON.stringify(thenCanary.autoRollback ?? null) !== JSON.stringify(nowCanary.autoRollback ?? null)
    ) {
      const policy = policyWords(nowCanary.autoRollback);
      changes.push(
        `alias ${alias}: canary ${nowCanary.version}${policy === "" ? " without automatic rollback" : policy}`,
      );
    }
  }
  for (const alias of Object.keys(before.aliases))
    if (!(alias in after.aliases)) changes.push(`alias ${alias} removed`);
  return changes.length > 0 ? changes : ["no change to versions or aliases"];
}

/** ` (rolled back automatically: error rate +5 points, p95 ×1.5, after 200 calls)`, or "" without a policy. */
function policyWords(policy: AutoRollback | null | undefined): string {
  if (!policy) return "";
  const limits = [
    policy.maxErrorRateDelta === null ? null : `error rate +${round(policy.maxErrorRateDelta * 100)} points`,
    policy.maxP95Ratio === null ? null : `p95 ×${policy.maxP95Ratio}`,
  ].filter((limit) => limit !== null);
  return ` (rolled back automatically past ${limits.join(" or ")}, after ${policy.minCalls} calls)`;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
