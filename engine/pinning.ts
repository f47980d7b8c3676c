import { createHash } from "node:crypto";
import { type CompiledModel, reasonOf, resolveModelReference } from "../compiler/index.ts";
import { ExecutionError } from "./errors.ts";

/**
 * Model references are resolved once, when a run starts, and pinned in the run:
 * an alias moved later affects new runs only. An alias with a canary sends
 * `percent`% of runs to the canary: chosen from a hash of the run id and the
 * reference, so the same run always gets the same answer (a retried run too).
 */
export function pinModels(
  runId: string,
  references: readonly string[],
  models: ReadonlyMap<string, CompiledModel>,
): Record<string, string> {
  const pinned: Record<string, string> = {};
  for (const ref of references) {
    const resolved = resolveModelReference(ref, models);
    if (!resolved.ok)
      throw ExecutionError.nonRetryable("unknown-model", `model reference "${ref}": ${resolved.message}`);
    const canary = resolved.canary !== null && bucket(runId, ref) < resolved.canary.percent;
    const version = canary && resolved.canary ? resolved.canary.version : resolved.version;
    const model = models.get(resolved.model);
    if (model?.versions[version]?.stage === "retired") {
      throw ExecutionError.nonRetryable(
        "retired-model",
        `model reference "${ref}" resolves to ${resolved.model}@${version}, which is retired${reasonOf(model.versions[version])}; no run starts on a retired version`,
      );
    }
    pinned[ref] = `${resolved.model}@${version}`;
  }
  return pinned;
}

/** A number in [0, 100) from the run id and reference, stable and evenly spread. */
export function bucket(runId: string, ref: string): number {
  const digest = createHash("sha256").update(`${runId}\u0000${ref}`).digest();
  return (digest.readUInt32BE(0) / 0x1_0000_0000) * 100;
}
