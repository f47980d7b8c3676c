import type { ExecutionPlan, PlanNode } from "../compiler/index.ts";
import type { ExecutionStatus } from "./store/records.ts";

/**
 * What to do next in a run, decided from the plan and the state alone: no I/O,
 * no clock, no randomness. The runner reads the state, calls this, and applies
 * the result through the ports (style: Conductor's DeciderService).
 *
 * A node is considered once every dependency has finished. Then, in order:
 * 1. trigger: all_succeeded needs every dependency succeeded; none_failed needs
 *    none failed (skipped is fine: joins after a branch); all_done always passes.
 * 2. failFast: once the run is failing (a node failed with onError: fail), only
 *    nodes with trigger all_done still start.
 * `when` is evaluated by the worker when the node runs (it is an expression
 * over the dependencies' outputs); a falsy `when` ends the node skipped.
 */
export interface RunView {
  /** A node failed with onError: fail. */
  readonly failing: boolean;
  /** Status of each node that has an execution record (absent: pending). */
  readonly statuses: Readonly<Record<string, ExecutionStatus>>;
}

export interface Decision {
  /** Nodes to queue for a worker. */
  readonly dispatch: string[];
  /** Nodes to end as skipped, with why. */
  readonly skip: { readonly nodeId: string; readonly reason: string }[];
  /** Every node has finished: how the run ends. */
  readonly finish: { readonly status: "succeeded" | "failed" } | null;
}

const FINISHED: ReadonlySet<ExecutionStatus> = new Set(["succeeded", "failed", "skipped", "cancelled"]);

/** Decides for `candidates` (or every pending node) of the run. */
export function decide(
  plan: ExecutionPlan,
  view: RunView,
  candidates: readonly string[] = plan.order,
): Decision {
  const dispatch: string[] = [];
  const skip: { nodeId: string; reason: string }[] = [];
  for (const nodeId of candidates) {
    const node = plan.nodes[nodeId];
    if (node === undefined || (view.statuses[nodeId] ?? "pending") !== "pending") continue;
    if (!node.dependencies.every((dep) => FINISHED.has(view.statuses[dep] ?? "pending"))) continue;
    const reason = whyNotRun(node, plan, view);
    if (reason === null) dispatch.push(nodeId);
    else skip.push({ nodeId, reason });
  }
  const done = dispatch.length === 0 && skip.length === 0 && allFinished(plan, view);
  return { dispatch, skip, finish: done ? { status: view.failing ? "failed" : "succeeded" } : null };
}

/** Why a node whose dependencies have all finished must not run, or null. */
export function whyNotRun(node: PlanNode, plan: ExecutionPlan, view: RunView): string | null {
  const statuses = node.dependencies.map((dep) => view.statuses[dep] ?? "pending");
  switch (node.trigger) {
    case "all_succeeded":
      if (!statuses.every((s) => s === "succeeded"))
        return "a dependency did not succeed (trigger: all_succeeded)";
      break;
    case "none_failed":
      if (statuses.some((s) => s === "failed" || s === "cancelled"))
        return "a dependency failed (trigger: none_failed)";
      break;
    case "all_done":
      return null;
  }
  if (view.failing && plan.failFast) return "the run is failing (failFast)";
  return null;
}

function allFinished(plan: ExecutionPlan, view: RunView): boolean {
  return plan.order.every((nodeId) => FINISHED.has(view.statuses[nodeId] ?? "pending"));
}
