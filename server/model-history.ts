import type { CompiledModel } from "../definitions/index.ts";

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
      changes.push(`alias ${alias}: canary ${nowCanary.version} at ${nowCanary.percent}%`);
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
  }
  for (const alias of Object.keys(before.aliases))
    if (!(alias in after.aliases)) changes.push(`alias ${alias} removed`);
  return changes.length > 0 ? changes : ["no change to versions or aliases"];
}
