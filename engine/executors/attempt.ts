import type { ExecutionPlan, PlanNode, TemplateNode } from "../../compiler/index.ts";
import type { TokenUsage } from "../providers/provider.ts";
import type { EngineServices } from "../services.ts";
import type { Cost, ExecutionRecord, RunRecord } from "../store/records.ts";

/**
 * One attempt at a node that does work (model, preprocess, transform): given
 * the evaluated context, produce the output or throw an ExecutionError. It
 * never sleeps to retry (the worker schedules retries as state) and it stops
 * when `signal` aborts (the attempt's timeout, a cancelled run).
 */
export interface Attempt {
  readonly services: EngineServices;
  readonly run: RunRecord;
  readonly plan: ExecutionPlan;
  readonly node: PlanNode | TemplateNode;
  readonly execution: ExecutionRecord;
  readonly context: Record<string, unknown>;
  readonly signal: AbortSignal;
  /** Tells the attempt's history what it sends (the rendered input or arguments) and to which provider. */
  readonly sends?: (request: unknown, provider?: string) => void;
}

export interface AttemptResult {
  readonly output: unknown;
  readonly cached: boolean;
  /** `name@version` that answered, for model nodes. */
  readonly model?: string;
  readonly usage?: TokenUsage;
  /** From the usage and the model version's declared cost. */
  readonly cost?: Cost;
}

export type AttemptExecutor = (attempt: Attempt) => Promise<AttemptResult>;
