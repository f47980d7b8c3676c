import type { Registered } from "../engine/catalog.ts";

/**
 * What registering a definitions directory changed, in words: one line per
 * new version (a definition seen for the first time, or whose content
 * changed), nothing for the unchanged ones. A process never registers a
 * version silently, and an unchanged file never makes one (the store compares
 * content hashes, so an edited comment is no new version either).
 */
export function registrationLines(registered: {
  readonly workflows: ReadonlyMap<string, Registered>;
  readonly models: ReadonlyMap<string, Registered>;
}): string[] {
  const changed: string[] = [];
  const fresh: string[] = [];
  const describe = (kind: string, name: string, { version, created }: Registered) => {
    if (!created) return;
    if (version === 1) fresh.push(`${kind} "${name}"`);
    else
      changed.push(
        `registered ${kind} "${name}" version ${version} (its content changed since version ${version - 1})`,
      );
  };
  for (const [name, registration] of registered.models) describe("model", name, registration);
  for (const [name, registration] of registered.workflows) describe("workflow", name, registration);
  // A first start registers everything: one line for those, not one each.
  const first =
    fresh.length === 0
      ? []
      : fresh.length === 1
        ? [`registered ${fresh[0]} version 1 (new)`]
        : [`registered ${fresh.length} new definitions (version 1): ${fresh.join(", ")}`];
  return [...first, ...changed];
}
