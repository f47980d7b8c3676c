import { evaluateTemplate } from "../template-eval.ts";
import type { Attempt, AttemptResult } from "./attempt.ts";
import { withCache } from "./with-cache.ts";

/** A preprocess node runs a registered op on its evaluated `with`. */
export async function runPreprocess(attempt: Attempt): Promise<AttemptResult> {
  const { node, context, services, signal } = attempt;
  if (node.type !== "preprocess") throw new Error(`not a preprocess node: ${node.id}`);
  const args = (await evaluateTemplate(node.with, context, services.config.expressions)) as Record<
    string,
    unknown
  >;
  attempt.sends?.(args);
  return withCache(attempt, { target: `preprocess:${node.op}`, input: args, params: null }, async () => ({
    output: await services.ops.run(node.op, args, signal),
  }));
}
