import { evaluateExpression } from "../template-eval.ts";
import type { Attempt, AttemptResult } from "./attempt.ts";
import { withCache } from "./with-cache.ts";

/** A transform's output is its JSONata expression's value over the context. */
export async function runTransform(attempt: Attempt): Promise<AttemptResult> {
  const { node, context, services } = attempt;
  if (node.type !== "transform") throw new Error(`not a transform node: ${node.id}`);
  return withCache(
    attempt,
    { target: "transform", input: { expr: node.expr, context }, params: null },
    async () => ({
      output: await evaluateExpression(node.expr, context, services.config.expressions),
    }),
  );
}
