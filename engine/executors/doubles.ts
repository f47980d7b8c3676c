import type { PlanNode, TemplateNode } from "../../compiler/index.ts";
import type { EngineServices } from "../services.ts";
import type { ExecutionRecord, RunRecord } from "../store/records.ts";
import type { AttemptExecutor, AttemptResult } from "./attempt.ts";

/**
 * Stand-ins for nodes and models, for `pflow test` (cli/test/): asked before a
 * node does its work, they answer for it (an output, or an ExecutionError
 * thrown as the node's own failure) or let it run as written. Production
 * engines have none: EngineServices.doubles is unset and nothing changes.
 */
export interface DoubleQuery {
  readonly services: EngineServices;
  readonly run: RunRecord;
  readonly node: PlanNode | TemplateNode;
  readonly execution: ExecutionRecord;
}

export interface Doubles {
  /** This attempt's answer, or undefined to run the node as written; throws the attempt's error. */
  answer(query: DoubleQuery): Promise<AttemptResult | undefined>;
}

/** An executor that asks the engine's doubles first, if it has any. */
export function withDoubles(executor: AttemptExecutor): AttemptExecutor {
  return async (attempt) => {
    const doubles = attempt.services.doubles;
    if (doubles === undefined) return executor(attempt);
    return (await doubles.answer(attempt)) ?? executor(attempt);
  };
}
