import type { CompiledModel, ModelAlias } from "./model.ts";
import { didYouMean } from "./suggest.ts";

/**
 * Model references: `name` (its production alias if it has one, else its highest
 * version), `name@alias` or `name@version`. Resolution here is static: which
 * version an alias names today. Choosing between an alias's version and its
 * canary is done per run, from the run id, when the run starts.
 */
export type ModelResolution =
  | {
      readonly ok: true;
      readonly model: string;
      /** The alias the reference went through, if any. */
      readonly alias: string | null;
      readonly version: string;
      readonly canary: ModelAlias["canary"];
    }
  | { readonly ok: false; readonly message: string };

export function resolveModelReference(
  ref: string,
  models: ReadonlyMap<string, CompiledModel>,
): ModelResolution {
  const at = ref.indexOf("@");
  const name = at < 0 ? ref : ref.slice(0, at);
  const model = models.get(name);
  if (model === undefined) {
    return { ok: false, message: `no model is named "${name}"${didYouMean(name, models.keys())}` };
  }
  const selector = at < 0 ? null : ref.slice(at + 1);
  const target =
    selector ?? ("alias" in model.defaultTarget ? model.defaultTarget.alias : model.defaultTarget.version);
  const alias = model.aliases[target];
  if (alias !== undefined) {
    return { ok: true, model: name, alias: target, version: alias.version, canary: alias.canary };
  }
  if (target in model.versions) return { ok: true, model: name, alias: null, version: target, canary: null };
  const choices = [...Object.keys(model.aliases), ...Object.keys(model.versions)];
  return {
    ok: false,
    message:
      `model "${name}" has no version or alias "${target}"${didYouMean(target, choices)}` +
      ` (versions: ${Object.keys(model.versions).join(", ")}; aliases: ${Object.keys(model.aliases).join(", ") || "none"})`,
  };
}

/** `name` or `name@version` of a workflow node. */
export function parseWorkflowReference(ref: string): {
  readonly name: string;
  readonly version: number | null;
} {
  const [name, version] = ref.split("@") as [string, string | undefined];
  return { name, version: version === undefined ? null : Number(version) };
}
