import type { TokenUsage } from "../providers/provider.ts";
import { cacheKey } from "../result-cache.ts";
import { evaluateTemplate } from "../template-eval.ts";
import type { Attempt } from "./attempt.ts";

export interface Computed {
  readonly output: unknown;
  readonly usage?: TokenUsage;
}

/**
 * Runs `compute` through the node's result cache, if it has `cache`. The key is
 * the target (model name and version, op, transform) with the resolved input and
 * parameters, or with the value of the node's custom `key` instead of the input:
 * the target always stays in, so promoting a model version never serves the old
 * version's answers. A hit costs no tokens.
 */
export async function withCache(
  attempt: Attempt,
  parts: { target: string; input: unknown; params: unknown },
  compute: () => Promise<Computed>,
): Promise<Computed & { cached: boolean }> {
  const { node, services, context } = attempt;
  if (node.cache === null) return { ...(await compute()), cached: false };
  const custom = node.cache.key !== null;
  const input = node.cache.key === null ? parts.input : await evaluateTemplate(node.cache.key, context);
  const key = cacheKey({ target: parts.target, input, params: parts.params, custom });
  let usage: TokenUsage | undefined;
  const { value, hit } = await services.cache.getOrCompute(
    key,
    node.cache.ttlMs,
    services.clock(),
    async () => {
      const computed = await compute();
      usage = computed.usage;
      return computed.output;
    },
  );
  return hit || usage === undefined
    ? { output: value, cached: hit }
    : { output: value, cached: false, usage };
}
