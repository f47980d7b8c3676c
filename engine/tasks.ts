import type { ExecutionPlan, PlanNode, TemplateNode } from "../compiler/index.ts";
import type { Task } from "./broker/broker.ts";
import type { ExecutionRecord } from "./store/records.ts";
import { activeTraceparent } from "./tracing.ts";

/**
 * What a task runs. An execution's key is `runId/nodeId` for a node of the
 * plan and `runId/nodeId#index` for an item of a map, which runs the map's
 * template node.
 */

/** The plan node an execution runs: the node, or for a map item its template. */
export function nodeOf(plan: ExecutionPlan, execution: ExecutionRecord): PlanNode | TemplateNode {
  const node = plan.nodes[execution.nodeId];
  if (!node) throw new Error(`plan ${plan.workflow} has no node ${execution.nodeId}`);
  if (execution.item !== null) {
    if (node.type !== "map") throw new Error(`node ${execution.nodeId} is not a map but has items`);
    return node.node;
  }
  return node;
}

/**
 * The task for an execution's key, with its broker route (workers can be
 * scaled per node type or model) and the trace it continues.
 */
export function taskFor(runId: string, key: string, plan: ExecutionPlan): Task {
  const nodeId = key.slice(runId.length + 1).replace(/#\d+$/, "");
  const node = plan.nodes[nodeId];
  const target = node?.type === "map" && key.includes("#") ? node.node : node;
  const route = target?.type === "model" ? `model.${target.model.split("@")[0]}` : (target?.type ?? "node");
  const trace = activeTraceparent();
  return trace ? { key, runId, nodeId, route, trace } : { key, runId, nodeId, route };
}
