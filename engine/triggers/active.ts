import type { ExecutionPlan, PlanTrigger } from "../../compiler/index.ts";
import type { Catalog } from "../catalog.ts";
import type { Store } from "../store/store.ts";

/** A trigger of the latest registered version of its workflow: the ones in force. */
export interface ActiveTrigger {
  readonly workflow: string;
  /** The version whose definition declares it; its runs start on that version. */
  readonly version: number;
  readonly trigger: PlanTrigger;
}

/**
 * The triggers in force, read cheaply enough to do every few seconds: the
 * latest version numbers (no documents), and a workflow's plan only when its
 * version is not the one `known` holds (then kept there).
 */
export async function activeTriggers(
  store: Store,
  catalog: Catalog,
  known: Map<string, { readonly version: number; readonly triggers: readonly PlanTrigger[] }> = new Map(),
): Promise<ActiveTrigger[]> {
  const latest = await store.triggers.latestWorkflowVersions();
  const active: ActiveTrigger[] = [];
  for (const { name, version } of latest.sort((a, b) => a.name.localeCompare(b.name))) {
    let entry = known.get(name);
    if (entry?.version !== version) {
      const { plan } = await catalog.plan(name, version);
      entry = { version, triggers: (plan as ExecutionPlan).triggers ?? [] };
      known.set(name, entry);
    }
    for (const trigger of entry.triggers) active.push({ workflow: name, version, trigger });
  }
  const names = new Set(latest.map(({ name }) => name));
  for (const name of known.keys()) if (!names.has(name)) known.delete(name);
  return active;
}
