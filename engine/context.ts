import type { ExecutionPlan } from "../compiler/index.ts";
import type { ExecutionRecord, RunRecord } from "./store/records.ts";

/**
 * The context every expression of a node is evaluated against: `inputs`,
 * `nodes.<id>.output` and `.status` of the node's dependencies (the only nodes
 * its expressions can name), `run.id`, `run.workflow`, and in a map item
 * `item` and `index`.
 */
export function expressionContext(
  run: RunRecord,
  dependencies: readonly ExecutionRecord[],
  item?: { readonly value: unknown; readonly index: number },
): Record<string, unknown> {
  const nodes: Record<string, { output: unknown; status: string }> = {};
  for (const dep of dependencies) nodes[dep.nodeId] = { output: dep.output, status: dep.status };
  const context: Record<string, unknown> = {
    inputs: run.input,
    nodes,
    run: { id: run.id, workflow: run.workflow.name },
  };
  if (item) {
    context.item = item.value;
    context.index = item.index;
  }
  return context;
}

/** The context of a run's outputs: every node. */
export function outputsContext(
  run: RunRecord,
  executions: readonly ExecutionRecord[],
): Record<string, unknown> {
  return expressionContext(run, executions);
}

/** Without `outputs`, a run's output is the outputs of its leaf nodes that succeeded. */
export function leafOutputs(
  plan: ExecutionPlan,
  executions: readonly ExecutionRecord[],
): Record<string, unknown> {
  const byNode = new Map(executions.map((e) => [e.nodeId, e]));
  const output: Record<string, unknown> = {};
  for (const leaf of plan.leaves) {
    const execution = byNode.get(leaf);
    if (execution?.status === "succeeded") output[leaf] = execution.output;
  }
  return output;
}
