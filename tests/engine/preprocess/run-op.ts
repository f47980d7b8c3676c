import { builtInOps } from "../../../engine/preprocess/registry.ts";

/** Runs a built-in op through the registry, as a workflow run would: args checked, defaults filled in. */
const registry = builtInOps();

export function runOp(name: string, args: Record<string, unknown>): Promise<unknown> {
  return registry.run(name, args, new AbortController().signal);
}
