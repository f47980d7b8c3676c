import { ExecutionError } from "../errors.ts";
import { type EvaluateOptions, evaluateExpression } from "../template-eval.ts";
import { type OutboundOptions, postJson } from "./json-post.ts";
import { estimateUsage } from "./mock.ts";
import type { Provider, ProviderCall, ProviderResult } from "./provider.ts";

/**
 * The `http` provider, for in-house model servers: the node input is POSTed as
 * JSON to `endpoint` (with the version's headers, and bearer auth when it names
 * an apiKeySecret); the reply must be JSON. `response`, a bare JSONata
 * expression evaluated against the reply body, maps it to the output (no match
 * is null); without one the body is the output. Errors are classified as for
 * every outbound call (see json-post.ts); a failing mapping is an expression
 * error, non-retryable like any other. No token usage: the reply has no
 * standard place for it.
 */
export class HttpProvider implements Provider {
  readonly #outbound: OutboundOptions;
  readonly #expressions: EvaluateOptions | undefined;

  constructor(outbound: OutboundOptions, expressions?: EvaluateOptions) {
    this.#outbound = outbound;
    this.#expressions = expressions;
  }

  async call(call: ProviderCall): Promise<ProviderResult> {
    const { version, model } = call;
    if (version.provider !== "http") {
      throw ExecutionError.nonRetryable("internal", `${model} is a ${version.provider} model, not http`);
    }
    let url: URL;
    try {
      url = new URL(version.endpoint);
    } catch {
      throw ExecutionError.nonRetryable("bad-endpoint", `${model}: "${version.endpoint}" is not a URL`);
    }
    const reply = await postJson(this.#outbound, {
      url,
      body: call.input ?? null,
      headers: version.headers,
      apiKeySecret: version.apiKeySecret,
      model,
      signal: call.signal,
    });
    const output =
      version.response === null
        ? reply
        : await evaluateExpression(version.response, reply, this.#expressions);
    // In-house servers report no token usage: estimated, as for mock, so usage and cost still add up.
    return { output, usage: estimateUsage(call.input ?? null, output) };
  }
}
