import type { ExecutionPlan } from "../compiler/index.ts";

/**
 * What finishing a node tells the Store: which nodes wait for it, and how many
 * dependencies each of those has, so the Store can say which became ready.
 * Computed once per plan.
 */
export interface Propagation {
  readonly dependents: readonly string[];
  readonly dependencyCounts: Readonly<Record<string, number>>;
}

const NONE: Propagation = Object.freeze({ dependents: [], dependencyCounts: {} });
const byPlan = new WeakMap<ExecutionPlan, Map<string, Propagation>>();

export function propagationOf(plan: ExecutionPlan, nodeId: string | null): Propagation {
  if (nodeId === null) return NONE;
  let table = byPlan.get(plan);
  if (!table) {
    table = new Map();
    for (const id of plan.order) {
      const node = plan.nodes[id];
      if (!node) continue;
      const dependencyCounts: Record<string, number> = {};
      for (const dependent of node.dependents)
        dependencyCounts[dependent] = plan.nodes[dependent]?.dependencies.length ?? 0;
      table.set(id, { dependents: node.dependents, dependencyCounts });
    }
    byPlan.set(plan, table);
  }
  return table.get(nodeId) ?? NONE;
}
