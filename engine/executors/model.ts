import type { ModelCost } from "../../compiler/index.ts";
import { DeltaBatcher } from "../delta-batcher.ts";
import { ExecutionError } from "../errors.ts";
import type { ProviderResult, TokenUsage } from "../providers/provider.ts";
import type { Cost } from "../store/records.ts";
import { evaluateTemplate } from "../template-eval.ts";
import { describeViolations } from "../user-schemas.ts";
import type { Attempt, AttemptResult } from "./attempt.ts";
import { withCache } from "./with-cache.ts";

/**
 * A model node calls the model version pinned for the run: its own model
 * reference (modelIndex 0) or, once that has used up its attempts, each of its
 * fallbacks in turn (modelIndex 1, 2…). An output that breaks `outputSchema` is
 * a retryable error here: asking again often fixes a model's answer. A node
 * with `stream: true` also relays the text as the model writes it (deltas,
 * through the Broker), which changes nothing else.
 */
export async function runModel(attempt: Attempt): Promise<AttemptResult> {
  const { node, context, services, signal, run, execution } = attempt;
  if (node.type !== "model") throw new Error(`not a model node: ${node.id}`);
  const reference = modelReference(node, execution.modelIndex);
  const pinned = run.models[reference];
  if (pinned === undefined) {
    throw ExecutionError.nonRetryable(
      "unknown-model",
      `model reference "${reference}" was not pinned when the run started`,
    );
  }
  const { version } = await services.catalog.modelVersion(pinned);
  const input = await evaluateTemplate(node.input, context, services.config.expressions);
  attempt.sends?.(input, version.provider);
  const params = version.provider === "openai" ? version.params : null;
  const result = await withCache(attempt, { target: pinned, input, params }, async () => {
    // Inside the cache's compute: a hit calls no model, so it streams nothing.
    const deltas = node.stream === true ? deltaBatcherFor(attempt) : null;
    let answer: ProviderResult;
    try {
      answer = await services.providers.providerFor(version).call({
        version,
        model: pinned,
        input,
        attempt: execution.attempt,
        outputSchema: node.outputSchema,
        signal,
        ...(deltas === null ? {} : { onDelta: (text: string) => deltas.push(text) }),
      });
    } finally {
      await deltas?.close();
    }
    const violations = services.schemas.validate(node.outputSchema, answer.output);
    if (violations.length > 0) {
      throw ExecutionError.retryable(
        "output-schema",
        `${pinned} answered with an output that breaks outputSchema: ${describeViolations(violations)}`,
      );
    }
    return answer;
  });
  const cost = version.cost && result.usage ? costOf(version.cost, result.usage) : undefined;
  return { ...result, model: pinned, ...(cost ? { cost } : {}) };
}

/** Batches the attempt's streamed text into deltas for whoever follows the run. */
function deltaBatcherFor({ services, execution }: Attempt): DeltaBatcher {
  const { runId, nodeId, item, attemptsTotal } = execution;
  return new DeltaBatcher((batch) => services.broker.publishDeltas(batch), {
    runId,
    nodeId,
    item,
    attempt: attemptsTotal,
  });
}

/** Tokens at the version's prices per million; a cache hit costs nothing (it has no usage). */
export function costOf(prices: ModelCost, usage: TokenUsage): Cost {
  const amount =
    (usage.inputTokens * prices.inputPerMillion + usage.outputTokens * prices.outputPerMillion) / 1_000_000;
  return { amount, currency: prices.currency };
}

/** The model reference tried at `modelIndex`: the node's own, then its fallbacks. */
export function modelReference(
  node: { readonly model: string; readonly fallback: readonly string[] },
  modelIndex: number,
): string {
  return modelIndex === 0 ? node.model : (node.fallback[modelIndex - 1] ?? node.model);
}
