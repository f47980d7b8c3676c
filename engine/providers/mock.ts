import { ExecutionError } from "../errors.ts";
import { delay } from "./abortable.ts";
import type { Provider, ProviderCall, ProviderResult, TokenUsage } from "./provider.ts";
import { type EvaluateOptions, evaluateTemplate } from "./template-eval.ts";

/**
 * The `mock` provider, for testing workflows in CI without a model:
 * - `latency` delays every answer, failures included (a real server also takes
 *   its time before it fails), and the wait ends as soon as the attempt aborts;
 * - `error` fails every attempt, non-retryably; it wins over `failures`;
 * - `failures: N` fails attempts 1..N retryably, so a retry policy of more than
 *   N attempts succeeds;
 * - otherwise `response`, evaluated against `{ input, attempt }`, is the output.
 * Usage is estimated from the size of input and output so that token
 * accounting, budgets and metrics work the same as with a model.
 */
export class MockProvider implements Provider {
  readonly #expressions: EvaluateOptions | undefined;

  constructor(expressions?: EvaluateOptions) {
    this.#expressions = expressions;
  }

  async call(call: ProviderCall): Promise<ProviderResult> {
    const { version, signal } = call;
    if (version.provider !== "mock") {
      throw ExecutionError.nonRetryable("internal", `${call.model} is a ${version.provider} model, not mock`);
    }
    signal.throwIfAborted();
    if (version.latencyMs > 0) await delay(version.latencyMs, signal);
    if (version.error !== null) throw ExecutionError.nonRetryable("mock-error", version.error);
    if (call.attempt <= version.failures) {
      throw ExecutionError.retryable(
        "mock-failure",
        `${call.model}: mock failure on attempt ${call.attempt} (the first ${version.failures} fail)`,
      );
    }
    const output = await evaluateTemplate(
      version.response,
      { input: call.input, attempt: call.attempt },
      this.#expressions,
    );
    return { output, usage: estimateUsage(call.input, output) };
  }
}

/** About four characters of JSON per token: the usual rule of thumb for English text. */
export function estimateUsage(input: unknown, output: unknown): TokenUsage {
  const inputTokens = estimateTokens(input);
  const outputTokens = estimateTokens(output);
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

function estimateTokens(value: unknown): number {
  const json = JSON.stringify(value);
  return json === undefined ? 0 : Math.ceil(json.length / 4);
}
