import type { ExecutionPlan, PlanNode, TemplateNode } from "../../compiler/index.ts";
import type { Runner } from "../runner.ts";
import type { EngineServices } from "../services.ts";
import type { ExecutionRecord, Outcome, RunRecord } from "../store/records.ts";

/** An execution a worker holds: the record, its lease token, and what it runs. */
export interface Claimed {
  readonly execution: ExecutionRecord;
  readonly token: string;
  readonly run: RunRecord;
  readonly plan: ExecutionPlan;
  readonly node: PlanNode | TemplateNode;
}

/**
 * A node that starts others and waits for them (map: its items; workflow: its
 * child run). Starting sets the waiting up and releases the lease; what it
 * waits on finishes it later (see Runner). `finish` ends it at once instead
 * (an empty map).
 */
export interface WaitingStart {
  readonly services: EngineServices;
  readonly runner: Runner;
  readonly claimed: Claimed;
  readonly context: Record<string, unknown>;
  finish(outcome: Outcome): Promise<void>;
}

/** The node's own deadline while it waits, if it has a timeout. */
export function waitDeadline(start: WaitingStart): number | null {
  const { node } = start.claimed;
  return node.timeoutMs === null ? null : start.services.clock() + node.timeoutMs;
}
