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
  const lines: string[] = [];
  const describe = (kind: string, name: string, { version, created }: Registered) => {
    if (!created) return;
    lines.push(
      version === 1
        ? `registered ${kind} "${name}" version 1 (new)`
        : `registered ${kind} "${name}" version ${version} (its content changed since version ${version - 1})`,
    );
  };
  for (const [name, registration] of registered.models) describe("model", name, registration);
  for (const [name, registration] of registered.workflows) describe("workflow", name, registration);
  return lines;
}
