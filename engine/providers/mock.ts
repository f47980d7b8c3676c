import { ExecutionError } from "../errors.ts";
import { type EvaluateOptions, evaluateTemplate } from "../template-eval.ts";
import { delay } from "./abortable.ts";
import type { Provider, ProviderCall, ProviderResult, TokenUsage } from "./provider.ts";

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
 *
 * Streaming (`onDelta`), so a UI can be tried without a model: the output's
 * `text` (or, for any other output, its JSON, as a model answering an
 * outputSchema would write it) goes out in word-sized pieces spread over the
 * latency, the last piece when the latency is over. Failing attempts stream
 * nothing: they fail after the latency, as without streaming.
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
    const fails = version.error !== null || call.attempt <= version.failures;
    if (call.onDelta === undefined || fails) {
      if (version.latencyMs > 0) await delay(version.latencyMs, signal);
      if (version.error !== null) throw ExecutionError.nonRetryable("mock-error", version.error);
      if (fails) {
        throw ExecutionError.retryable(
          "mock-failure",
          `${call.model}: mock failure on attempt ${call.attempt} (the first ${version.failures} fail)`,
        );
      }
    }
    const output = await evaluateTemplate(
      version.response,
      { input: call.input, attempt: call.attempt },
      this.#expressions,
    );
    if (call.onDelta !== undefined) {
      await streamPieces(wordPieces(draftOf(output)), version.latencyMs, signal, call.onDelta);
    }
    return { output, usage: estimateUsage(call.input, output) };
  }
}

/** What a model would have written to produce `output`: its text, or its JSON. */
function draftOf(output: unknown): string {
  const text = (output as { text?: unknown } | null)?.text;
  if (typeof text === "string") return text;
  return JSON.stringify(output) ?? "";
}

/** Words with the whitespace after them, the way tokens add up to text; leading whitespace stays with the first. */
export function wordPieces(text: string): string[] {
  return text.match(/^\s*\S+\s*|\S+\s*/g) ?? (text === "" ? [] : [text]);
}

/** Each piece after its share of `latencyMs`, so the last arrives when the latency is over. */
async function streamPieces(
  pieces: readonly string[],
  latencyMs: number,
  signal: AbortSignal,
  onDelta: (text: string) => void,
): Promise<void> {
  const start = Date.now();
  if (pieces.length === 0 && latencyMs > 0) await delay(latencyMs, signal);
  for (const [index, piece] of pieces.entries()) {
    const due = start + (latencyMs * (index + 1)) / pieces.length;
    const wait = due - Date.now();
    if (wait > 0) await delay(wait, signal);
    signal.throwIfAborted();
    onDelta(piece);
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
