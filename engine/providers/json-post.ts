import { ExecutionError } from "../errors.ts";
import type { EgressPolicy } from "./egress.ts";
import type { SecretSource } from "./provider.ts";

/**
 * One JSON POST to a model server, shared by the openai and http providers:
 * egress check, bearer auth from a named secret, the attempt's abort signal,
 * and one classification of what went wrong, decided here where the status is
 * known:
 * - network errors, 408, 409, 425 and 5xx: retryable `provider-unavailable`;
 *   429: retryable `rate-limited`;
 * - other 4xx, and 3xx (redirects are not followed: the target would escape the
 *   egress check): non-retryable `provider-rejected`;
 * - a 2xx whose body is not JSON: retryable `malformed-response`;
 * - a body larger than `maxResponseBytes`: non-retryable `response-too-large`.
 * An abort rejects with the signal's own reason, whatever stage it interrupts.
 * `sendPost` stops at the status and leaves the body to its caller, for
 * replies read as they arrive (chat-stream.ts).
 * Messages name the endpoint without its query string (it may carry a key) and
 * never contain the secret's value.
 */
export interface OutboundOptions {
  readonly secrets: SecretSource;
  readonly egress: EgressPolicy;
  /** Default: global fetch. */
  readonly fetch?: typeof fetch;
  /** Default 64 MiB: large batches of embeddings are big JSON. */
  readonly maxResponseBytes?: number;
}

export interface JsonPost {
  readonly url: URL;
  readonly body: unknown;
  /** Extra headers; `authorization` from the secret, when there is one, wins. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Name of the secret holding the bearer token; null: no auth. */
  readonly apiKeySecret: string | null;
  /** `name@version`, for messages. */
  readonly model: string;
  readonly signal: AbortSignal;
}

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 425]);
const SERVER_MESSAGE_LIMIT = 300;

/** POSTs `body` as JSON; the parsed JSON reply of a 2xx, or an ExecutionError. */
export async function postJson(options: OutboundOptions, post: JsonPost): Promise<unknown> {
  const response = await sendPost(options, post);
  const text = await readBody(response, maxResponseBytes(options), post);
  try {
    return JSON.parse(text);
  } catch {
    throw ExecutionError.retryable(
      "malformed-response",
      `${post.model}: ${whereOf(post.url)} answered ${response.status} with a body that is not JSON`,
    );
  }
}

/**
 * POSTs `body` as JSON and resolves with the response of a 2xx, its body not
 * yet read (a streamed reply is read as it arrives); anything else is thrown
 * as the ExecutionError its status calls for.
 */
export async function sendPost(options: OutboundOptions, post: JsonPost): Promise<Response> {
  const { url, model, signal } = post;
  const where = whereOf(url);
  const secret = readSecret(options.secrets, post.apiKeySecret, model);
  await options.egress.check(url, signal);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json",
    ...lowerCaseKeys(post.headers ?? {}),
  };
  if (secret !== undefined) headers.authorization = `Bearer ${secret}`;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      method: "POST",
      headers,
      body: JSON.stringify(post.body),
      redirect: "manual",
      signal,
    });
  } catch (error) {
    signal.throwIfAborted();
    throw ExecutionError.retryable(
      "provider-unavailable",
      `${model}: cannot reach ${where}: ${networkReason(error)}`,
      { cause: error },
    );
  }
  if (response.ok) return response;
  const text = await readBody(response, maxResponseBytes(options), post);
  const hide = (message: string) => (secret === undefined ? message : message.replaceAll(secret, "[secret]"));
  throw statusError(response.status, response.headers, hide(serverMessage(text)), model, where);
}

export function maxResponseBytes(options: OutboundOptions): number {
  return options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
}

/** The endpoint without its query string, which may carry a key. */
export function whereOf(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The secret named by apiKeySecret; undefined when the version names none. */
export function readSecret(secrets: SecretSource, name: string | null, model: string): string | undefined {
  if (name === null) return undefined;
  const value = secrets(name);
  if (value === undefined || value === "") {
    throw ExecutionError.nonRetryable(
      "missing-secret",
      `${model}: the secret "${name}" (apiKeySecret) is not set in the worker's environment`,
    );
  }
  return value;
}

/** The ExecutionError a status other than 2xx calls for (see the header comment). */
export function statusError(
  status: number,
  headers: Headers,
  message: string,
  model: string,
  where: string,
): ExecutionError {
  const said = message === "" ? "" : `: ${message}`;
  if (status === 429) {
    const after = headers.get("retry-after");
    const hint = after === null ? "" : ` (retry-after: ${after.slice(0, 40)})`;
    return ExecutionError.retryable("rate-limited", `${model}: ${where} answered 429${hint}${said}`);
  }
  if (status >= 500 || RETRYABLE_STATUSES.has(status)) {
    return ExecutionError.retryable("provider-unavailable", `${model}: ${where} answered ${status}${said}`);
  }
  if (status >= 300 && status < 400) {
    const location = headers.get("location");
    const to = location === null ? "" : ` to ${location.slice(0, 200)}`;
    return ExecutionError.nonRetryable(
      "provider-rejected",
      `${model}: ${where} answered ${status}, a redirect${to}; redirects are not followed, set the endpoint to the final URL`,
    );
  }
  return ExecutionError.nonRetryable("provider-rejected", `${model}: ${where} answered ${status}${said}`);
}

/**
 * What the server said, for an error message: `error.message` (OpenAI and most
 * compatible servers), `message`, `error` or `detail` of a JSON body, else the
 * body's text; truncated.
 */
export function serverMessage(text: string): string {
  let said: unknown = text;
  try {
    const body = JSON.parse(text) as Record<string, unknown> | null;
    const error = body?.error as Record<string, unknown> | string | undefined;
    said =
      (typeof error === "object" && error !== null ? error.message : error) ??
      body?.message ??
      body?.detail ??
      text;
  } catch {
    // Not JSON: the text itself is the message.
  }
  const message = (typeof said === "string" ? said : JSON.stringify(said)).trim().replace(/\s+/g, " ");
  return message.length > SERVER_MESSAGE_LIMIT ? `${message.slice(0, SERVER_MESSAGE_LIMIT)}…` : message;
}

/** The body as text, refusing to buffer more than `limit` bytes. */
export async function readBody(response: Response, limit: number, post: JsonPost): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel();
    throw tooLarge(post, limit);
  }
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge(post, limit);
      }
      chunks.push(value);
    }
  } catch (error) {
    throw readFailure(error, post);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * What to throw when reading a reply's body failed: the abort's own reason, an
 * ExecutionError as it is, else a retryable `provider-unavailable` (the
 * connection broke off).
 */
export function readFailure(error: unknown, post: JsonPost): unknown {
  if (post.signal.aborted) return post.signal.reason;
  if (error instanceof ExecutionError) return error;
  return ExecutionError.retryable(
    "provider-unavailable",
    `${post.model}: the reply from ${whereOf(post.url)} broke off: ${networkReason(error)}`,
    { cause: error },
  );
}

export function tooLarge(post: JsonPost, limit: number): ExecutionError {
  return ExecutionError.nonRetryable(
    "response-too-large",
    `${post.model}: the reply from ${whereOf(post.url)} is larger than ${limit} bytes`,
  );
}

/** fetch says "fetch failed"; the reason (ECONNREFUSED, a TLS error…) is in its cause. */
export function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
