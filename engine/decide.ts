import type { ExecutionPlan, PlanNode } from "../compiler/index.ts";
import type { NodeError } from "./errors.ts";
import { type ExecutionRecord, type ExecutionStatus, TERMINAL_EXECUTION } from "./store/records.ts";

/**
 * The run rules, in one place, decided from the plan and the state alone: no
 * I/O, no clock, no randomness. The runner and the workers read the state,
 * call these, and apply the result through the ports (style: Conductor's
 * DeciderService).
 *
 * A node is considered once every dependency has finished. Then, in order:
 * 1. trigger: all_succeeded needs every dependency succeeded; none_failed needs
 *    none failed (skipped is fine: joins after a branch); all_done always passes.
 * 2. failFast: once the run is failing (a node failed with onError: fail), only
 *    nodes with trigger all_done still start. Checked again when a worker takes
 *    a queued node (`whyNotStart`): the run may have begun failing since.
 * `when` is evaluated by the worker when the node runs (it is an expression
 * over the dependencies' outputs); a falsy `when` ends the node skipped.
 *
 * A run ends once every node has finished (`isComplete`; the Store also counts
 * finished nodes, so the runner learns it without reading them all), and how
 * is `runEnd`: failed if it is failing, else succeeded.
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
}

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
    if (node === undefined || statusOf(view, nodeId) !== "pending") continue;
    if (!node.dependencies.every((dep) => TERMINAL_EXECUTION.has(statusOf(view, dep)))) continue;
    const reason = whyNotRun(node, plan, view);
    if (reason === null) dispatch.push(nodeId);
    else skip.push({ nodeId, reason });
  }
  return { dispatch, skip };
}

/** Why a node whose dependencies have all finished must not run, or null. */
export function whyNotRun(node: PlanNode, plan: ExecutionPlan, view: RunView): string | null {
  const statuses = node.dependencies.map((dep) => statusOf(view, dep));
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
  return whyNotStart(node, plan, view.failing);
}

/** failFast: why a node of the plan must not start in a failing run, or null. */
export function whyNotStart(node: PlanNode, plan: ExecutionPlan, failing: boolean): string | null {
  if (!failing || !plan.failFast || node.trigger === "all_done") return null;
  return "the run is failing (failFast)";
}

/** Every node of the plan has finished. */
export function isComplete(plan: ExecutionPlan, view: Pick<RunView, "statuses">): boolean {
  return plan.order.every((nodeId) => TERMINAL_EXECUTION.has(statusOf(view, nodeId)));
}

/**
 * How a complete run ends: failed if it is failing, with the error of the
 * first node (in plan order) that failed with onError: fail; else succeeded
 * (its outputs are evaluated then, which can still fail it).
 */
export function runEnd(
  plan: ExecutionPlan,
  failing: boolean,
  executions: readonly Pick<ExecutionRecord, "nodeId" | "item" | "status" | "error">[],
): { readonly status: "succeeded" } | { readonly status: "failed"; readonly error: NodeError } {
  if (!failing) return { status: "succeeded" };
  const failed = new Map(
    executions.filter((e) => e.item === null && e.status === "failed").map((e) => [e.nodeId, e]),
  );
  for (const nodeId of plan.order) {
    const execution = failed.get(nodeId);
    if (execution && plan.nodes[nodeId]?.onError === "fail") {
      const message = `node "${nodeId}" failed: ${execution.error?.message ?? "unknown error"}`;
      return { status: "failed", error: { code: "node-failed", message } };
    }
  }
  return { status: "failed", error: { code: "failed", message: "the run failed" } };
}

function statusOf(view: Pick<RunView, "statuses">, nodeId: string): ExecutionStatus {
  return view.statuses[nodeId] ?? "pending";
}
