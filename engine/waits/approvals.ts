import type { PlanNode, TemplateNode } from "../../compiler/index.ts";
import type { Runner } from "../runner.ts";
import type { EngineServices } from "../services.ts";
import { type ExecutionRecord, executionKey, type RunRecord, TERMINAL_RUN } from "../store/records.ts";

/**
 * Approvals: an `approval` node waits for a person's decision, made over the
 * API by a key with scope `runs:approve`. The decision is the node's output,
 * `{ approved, by, comment, at }`; the node succeeds either way (a rejection is
 * a decision: `when: "{{ nodes.review.output.approved }}"` routes on it). It is
 * one conditional write from `waiting`, so of two decisions (or a decision and
 * the timeout) exactly one counts; the other is refused.
 */
export class ApprovalRefused extends Error {
  readonly status: 404 | 409;
  constructor(status: 404 | 409, message: string) {
    super(message);
    this.name = "ApprovalRefused";
    this.status = status;
  }
}

export interface Decision {
  readonly runId: string;
  readonly nodeId: string;
  /** The map item, for an approval in a map template; else null. */
  readonly item: number | null;
  readonly approved: boolean;
  readonly comment: string | null;
  /** Who decided: the API key's name. */
  readonly by: string;
}

export interface ApprovalOutput {
  readonly approved: boolean;
  readonly by: string;
  readonly comment: string | null;
  readonly at: string;
}

export async function decideApproval(
  services: EngineServices,
  runner: Runner,
  decision: Decision,
): Promise<ApprovalOutput> {
  const { store, catalog, clock } = services;
  const run = await store.getRun(decision.runId);
  if (!run) throw new ApprovalRefused(404, `run ${decision.runId} does not exist`);
  const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
  const node = plan.nodes[decision.nodeId];
  const target = decision.item === null || node?.type !== "map" ? node : node.node;
  if (!node || target?.type !== "approval" || (decision.item !== null && node.type !== "map"))
    throw new ApprovalRefused(
      404,
      `node "${decision.nodeId}" of run ${run.id} is not an approval node${decision.item === null && node?.type === "map" && node.node.type === "approval" ? ": name the map item (?item=N)" : ""}`,
    );
  const key = executionKey(run.id, decision.nodeId, decision.item);
  const execution = await store.getExecution(key);
  if (!execution)
    throw new ApprovalRefused(404, `run ${run.id} has no item ${decision.item} of node "${decision.nodeId}"`);
  if (execution.status !== "waiting") throw new ApprovalRefused(409, notWaiting(execution));
  if (TERMINAL_RUN.has(run.status)) throw new ApprovalRefused(409, `run ${run.id} has ended (${run.status})`);
  const output: ApprovalOutput = {
    approved: decision.approved,
    by: decision.by,
    comment: decision.comment,
    at: new Date(clock()).toISOString(),
  };
  const finished = await runner.finishExecution(
    run,
    plan,
    execution,
    { status: ["waiting"] },
    { status: "succeeded", output },
  );
  if (!finished) throw new ApprovalRefused(409, notWaiting((await store.getExecution(key)) ?? execution));
  return output;
}

function notWaiting(execution: ExecutionRecord): string {
  const what =
    execution.item === null
      ? `node "${execution.nodeId}"`
      : `item ${execution.item} of node "${execution.nodeId}"`;
  if (execution.status === "succeeded") {
    const decided = execution.output as Partial<ApprovalOutput> | null;
    return `${what} was decided already (${decided?.approved ? "approved" : "rejected"} by ${decided?.by ?? "someone"} at ${decided?.at ?? "?"})`;
  }
  if (execution.status === "pending" || execution.status === "queued" || execution.status === "running")
    return `${what} does not wait for a decision yet (it is ${execution.status})`;
  return `${what} ended ${execution.status}${execution.error ? `: ${execution.error.message}` : ""}`;
}

/** An approval waiting for a person, as GET /v1/approvals lists it. */
export interface PendingApproval {
  readonly runId: string;
  readonly workflow: RunRecord["workflow"];
  readonly nodeId: string;
  readonly item: number | null;
  readonly description: string | null;
  readonly waitingSince: string;
  /** When its timeout fails it, or null. */
  readonly timeoutAt: string | null;
}

/** Approvals waiting for a decision, the longest waiting first. */
export async function pendingApprovals(
  services: EngineServices,
  query: { limit: number; cursor?: string | null },
): Promise<{ items: PendingApproval[]; next: string | null }> {
  const { store, catalog } = services;
  const page = await store.waits.listWaiting({
    kind: "approval",
    limit: query.limit,
    cursor: query.cursor ?? null,
  });
  const items: PendingApproval[] = [];
  for (const execution of page.items) {
    const run = await store.getRun(execution.runId);
    if (!run) continue;
    const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
    const node = plan.nodes[execution.nodeId] as PlanNode | undefined;
    const target: PlanNode | TemplateNode | undefined =
      execution.item !== null && node?.type === "map" ? node.node : node;
    items.push({
      runId: run.id,
      workflow: run.workflow,
      nodeId: execution.nodeId,
      item: execution.item,
      description: target?.description ?? null,
      waitingSince: new Date(execution.updatedAt).toISOString(),
      timeoutAt: execution.leaseExpiresAt === null ? null : new Date(execution.leaseExpiresAt).toISOString(),
    });
  }
  return { items, next: page.next };
}
