import { ExecutionError } from "../errors.ts";
import type { OutboundOptions } from "./json-post.ts";
import { maxResponseBytes } from "./json-post.ts";

/**
 * The fetch the OpenAI SDK calls through (its `fetch` option): every request
 * the SDK makes passes our outbound rules first.
 * - The egress policy checks the URL before anything is sent (SSRF).
 * - Redirects are not followed (`redirect: "manual"`): the target would escape
 *   the egress check; the 3xx reaches the SDK as an error status.
 * - Without an apiKeySecret no Authorization header is sent: the SDK insists
 *   on a key, so it is given a placeholder that never leaves the process.
 * - A reply larger than maxResponseBytes is refused (non-retryable
 *   `response-too-large`), by its Content-Length or while it is read, so a
 *   huge or endless body cannot fill the worker's memory.
 * ExecutionErrors thrown here reach the provider through the SDK's own error
 * (as its cause) and are thrown as they are (see openai-errors.ts).
 */
export function guardedFetch(
  outbound: OutboundOptions,
  call: { readonly model: string; readonly withAuthorization: boolean },
): typeof fetch {
  const limit = maxResponseBytes(outbound);
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    await outbound.egress.check(url, init?.signal ?? undefined);
    const headers = new Headers(init?.headers);
    if (!call.withAuthorization) headers.delete("authorization");
    const response = await (outbound.fetch ?? fetch)(url, { ...init, headers, redirect: "manual" });
    const tooLarge = () =>
      ExecutionError.nonRetryable(
        "response-too-large",
        `${call.model}: the reply from ${url.origin}${url.pathname} is larger than ${limit} bytes`,
      );
    if (Number(response.headers.get("content-length") ?? Number.NaN) > limit) {
      await response.body?.cancel();
      throw tooLarge();
    }
    if (response.body === null) return response;
    let size = 0;
    const capped = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          size += chunk.byteLength;
          if (size > limit) controller.error(tooLarge());
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(capped, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
