import { APIConnectionError, APIError } from "openai";
import { ExecutionError } from "../errors.ts";
import { networkReason, serverMessage, statusError } from "./json-post.ts";

/**
 * What the OpenAI SDK threw, as the ExecutionError the engine's retry policy
 * reads, classified as every outbound call is (json-post.ts):
 * - the attempt's signal aborted: its own reason (a TimeoutError is retried as
 *   `timeout`, a cancelled run is not), whatever the SDK wrapped it in;
 * - an ExecutionError from our fetch (egress-denied, response-too-large): as it is;
 * - an HTTP status: 429 retryable `rate-limited`, 408/409/425 and 5xx retryable
 *   `provider-unavailable`, 3xx and other 4xx non-retryable `provider-rejected`;
 * - an error the server reported inside a stream: retryable `provider-unavailable`;
 * - a streamed chunk that is not JSON: retryable `malformed-response`;
 * - no connection, or one that broke off: retryable `provider-unavailable`.
 * Messages name the endpoint without its query string and never hold the key.
 */
export function asProviderError(
  error: unknown,
  context: {
    readonly model: string;
    readonly where: string;
    readonly signal: AbortSignal;
    readonly secret?: string;
  },
): unknown {
  const { model, where, signal, secret } = context;
  if (signal.aborted) return signal.reason;
  const own = ownError(error);
  if (own !== undefined) return own;
  const hide = (text: string) => (secret === undefined ? text : text.replaceAll(secret, "[secret]"));
  if (error instanceof APIConnectionError) {
    return ExecutionError.retryable(
      "provider-unavailable",
      `${model}: cannot reach ${where}: ${hide(networkReason(error.cause ?? error))}`,
      { cause: error },
    );
  }
  if (error instanceof APIError) {
    const said = hide(serverMessage(JSON.stringify(error.error ?? error.message)));
    if (error.status === undefined) {
      return ExecutionError.retryable(
        "provider-unavailable",
        `${model}: ${where} reported an error in the stream: ${said}`,
        { cause: error },
      );
    }
    return statusError(error.status, error.headers ?? new Headers(), said, model, where);
  }
  if (error instanceof SyntaxError) {
    // The SDK's own words ("malformed server-sent event JSON"): the chunk itself is not kept.
    return ExecutionError.retryable(
      "malformed-response",
      `${model}: a streamed chunk is not JSON: ${error.message}`,
    );
  }
  return ExecutionError.retryable(
    "provider-unavailable",
    `${model}: the reply from ${where} broke off: ${hide(networkReason((error as { cause?: unknown }).cause ?? error))}`,
    { cause: error },
  );
}

/** An ExecutionError thrown by our own code under the SDK (our fetch), found along the cause chain. */
function ownError(error: unknown): ExecutionError | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof ExecutionError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
