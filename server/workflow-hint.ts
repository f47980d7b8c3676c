import { didYouMean } from "../compiler/suggest.ts";
import type { Store } from "../engine/store/store.ts";

/**
 * ` (did you mean "x"?)` for a workflow name the registry does not hold, as
 * the CLI says it; "" when nothing registered is close, or the name is
 * registered (an unknown version of it). Only read on the 404 path.
 */
export async function workflowHint(store: Store, name: string): Promise<string> {
  const names = (await store.listDefinitions("Workflow")).map((record) => record.name);
  return names.includes(name) ? "" : didYouMean(name, names);
}
