import OpenAI from "openai";
import { ExecutionError } from "../errors.ts";
import { type Chunk, foldChatStream } from "./chat-stream.ts";
import { type OutboundOptions, readSecret, whereOf } from "./json-post.ts";
import { estimateUsage } from "./mock.ts";
import { asProviderError } from "./openai-errors.ts";
import { guardedFetch } from "./openai-fetch.ts";
import type { Provider, ProviderCall, ProviderResult, TokenUsage } from "./provider.ts";

/**
 * The `openai` provider: any server speaking the OpenAI API (vLLM, Ollama,
 * TGI, LocalAI, OpenAI itself). The node input says which API is called; it must
 * say exactly one of:
 * - `messages`: [{ role, content }…] → POST {endpoint}/chat/completions → `{ text }`;
 * - `prompt`: a string, sent as one user message → the same;
 * - `embed`: a string → POST {endpoint}/embeddings → `{ embedding: number[] }`,
 *   or an array of strings → `{ embeddings: number[][] }`, in input order (both
 *   are sent as an array of strings, a form the embeddings API defines).
 * Other input fields are ignored. With an outputSchema, a chat call asks for it
 * as a strict JSON-schema response format, and the output is the parsed JSON.
 *
 * The version's `params` (temperature, max_tokens…) go into the request body
 * under the fields pflow sets, which win: `model`, `messages`/`input`,
 * `response_format` when there is an outputSchema. `stream`, `stream_options`
 * and `encoding_format` are dropped from params: pflow decides whether a reply
 * streams (the node's `stream`), and a base64 reply would fail every attempt.
 *
 * A streaming node's chat call asks for `stream: true` with the usage in the
 * last chunk (`stream_options.include_usage`), and hands each piece of text to
 * `onDelta` (chat-stream.ts). The output is the same as without streaming; a
 * server that sends no usage in the stream gets it estimated (as the http
 * provider does), so a run's tokens and cost still add up. A server that
 * ignores `stream` and answers one JSON reply is read as such, its whole text
 * one delta.
 *
 * The calls go through the official `openai` SDK (its client per call, with
 * the endpoint as `baseURL`), with its own retries off (`maxRetries: 0`: the
 * engine's retry policy rules), no organization or project read from the
 * environment, and every request through guardedFetch (openai-fetch.ts:
 * egress check, no redirects, reply size cap). The attempt's signal cancels
 * the call; errors are classified in openai-errors.ts. Requests go through
 * the SDK's `post` with the body we build, not its typed resource methods:
 * `embeddings.create` asks for base64 vectors unless told otherwise, which
 * some compatible servers do not speak, and params must pass through as they
 * are (see docs/decisions.md).
 */
/** The SDK's request timeout, set as long as a timer allows: the attempt's signal is the timeout. */
const NO_SDK_TIMEOUT = 2_147_483_647;
/** The SDK insists on a key; with no apiKeySecret this one is sent nowhere (guardedFetch drops the header). */
const NO_KEY = "no-api-key";

export class OpenAIProvider implements Provider {
  readonly #outbound: OutboundOptions;

  constructor(outbound: OutboundOptions) {
    this.#outbound = outbound;
  }

  async call(call: ProviderCall): Promise<ProviderResult> {
    const { version, model } = call;
    if (version.provider !== "openai") {
      throw ExecutionError.nonRetryable("internal", `${model} is a ${version.provider} model, not openai`);
    }
    const request = requestOf(call.input, model);
    const {
      stream: _stream,
      stream_options: _streamOptions,
      encoding_format: _encoding,
      ...params
    } = version.params;
    const base = version.endpoint.replace(/\/+$/, "");
    let baseUrl: URL;
    try {
      baseUrl = new URL(base);
    } catch {
      throw ExecutionError.nonRetryable("bad-endpoint", `${model}: "${version.endpoint}" is not a URL`);
    }
    const secret = readSecret(this.#outbound.secrets, version.apiKeySecret, model);
    const client = new OpenAI({
      apiKey: secret ?? NO_KEY,
      baseURL: base,
      organization: null,
      project: null,
      maxRetries: 0,
      timeout: NO_SDK_TIMEOUT,
      fetch: guardedFetch(this.#outbound, { model, withAuthorization: secret !== undefined }),
    });
    const path = request.kind === "embeddings" ? "/embeddings" : "/chat/completions";
    const context = {
      model,
      where: whereOf(new URL(`${baseUrl.origin}${baseUrl.pathname.replace(/\/+$/, "")}${path}`)),
      signal: call.signal,
      ...(secret === undefined ? {} : { secret }),
    };
    try {
      if (request.kind === "embeddings") {
        const body = { ...params, model: version.model, input: request.texts };
        const reply = await client.post<unknown>(path, { body, signal: call.signal });
        const vectors = embeddingsOf(reply, request.texts.length, model);
        const output = request.single ? { embedding: vectors[0] } : { embeddings: vectors };
        return withUsage(output, reply);
      }
      const schema = call.outputSchema ?? null;
      const body: Record<string, unknown> = { ...params, model: version.model, messages: request.messages };
      if (schema !== null) {
        body.response_format = { type: "json_schema", json_schema: { name: "output", schema, strict: true } };
      }
      const { onDelta } = call;
      if (onDelta === undefined) {
        const reply = await client.post<unknown>(path, { body, signal: call.signal });
        const text = contentOf(reply, model);
        return withUsage(schema === null ? { text } : parseStructured(text, model), reply);
      }
      const reply = await streamChat(client, path, body, call.signal, onDelta, context);
      const text = contentOf(reply, model);
      const output = schema === null ? { text } : parseStructured(text, model);
      return { output, usage: usageOf(reply) ?? estimateUsage(call.input, output) };
    } catch (error) {
      if (error instanceof ExecutionError && !call.signal.aborted) throw error;
      throw asProviderError(error, context);
    }
  }
}

/** A streamed chat call: the SDK's server-sent-event stream, folded; a plain JSON reply read as one delta. */
async function streamChat(
  client: OpenAI,
  path: string,
  body: Record<string, unknown>,
  signal: AbortSignal,
  onDelta: (text: string) => void,
  context: { readonly model: string; readonly where: string },
): Promise<unknown> {
  const { data, response } = await client
    .post<AsyncIterable<Chunk>>(path, {
      body: { ...body, stream: true, stream_options: { include_usage: true } },
      stream: true,
      signal,
      headers: { accept: "text/event-stream" },
    })
    .withResponse();
  const type = response.headers.get("content-type") ?? "";
  if (type.toLowerCase().startsWith("text/event-stream")) return foldChatStream(data, onDelta, context);
  // The server ignored `stream`: one JSON reply, whose whole text is the one delta.
  let reply: unknown;
  try {
    reply = await response.json();
  } catch (error) {
    if (error instanceof ExecutionError || signal.aborted) throw error;
    throw ExecutionError.retryable(
      "malformed-response",
      `${context.model}: ${context.where} answered a streamed request with a body that is neither events nor JSON`,
    );
  }
  const content = (reply as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message
    ?.content;
  if (typeof content === "string" && content !== "") onDelta(content);
  return reply;
}

type Request =
  | { readonly kind: "chat"; readonly messages: readonly unknown[] }
  | { readonly kind: "embeddings"; readonly texts: readonly string[]; readonly single: boolean };

function requestOf(input: unknown, model: string): Request {
  const bad = (message: string) => ExecutionError.nonRetryable("bad-input", `${model}: ${message}`);
  const fields = typeof input === "object" && input !== null && !Array.isArray(input) ? input : {};
  const given = (["messages", "prompt", "embed"] as const).filter(
    (name) => (fields as Record<string, unknown>)[name] !== undefined,
  );
  if (given.length !== 1) {
    throw bad(
      given.length === 0
        ? "the input of an openai model needs one of messages, prompt or embed"
        : `the input gives ${given.join(" and ")}; an openai call takes exactly one of them`,
    );
  }
  const { messages, prompt, embed } = fields as Record<string, unknown>;
  if (given[0] === "prompt") {
    if (typeof prompt !== "string") throw bad("input.prompt must be a string");
    return { kind: "chat", messages: [{ role: "user", content: prompt }] };
  }
  if (given[0] === "messages") {
    const valid =
      Array.isArray(messages) &&
      messages.length > 0 &&
      messages.every((m) => typeof m === "object" && m !== null && typeof m.role === "string");
    if (!valid) throw bad("input.messages must be a non-empty array of { role, content }");
    return { kind: "chat", messages };
  }
  if (typeof embed === "string") return { kind: "embeddings", texts: [embed], single: true };
  if (Array.isArray(embed) && embed.length > 0 && embed.every((text) => typeof text === "string")) {
    return { kind: "embeddings", texts: embed, single: false };
  }
  throw bad("input.embed must be a string or a non-empty array of strings");
}

function malformed(model: string, message: string): ExecutionError {
  return ExecutionError.retryable("malformed-response", `${model}: ${message}`);
}

function contentOf(reply: unknown, model: string): string {
  const message = (reply as { choices?: { message?: { content?: unknown; refusal?: unknown } }[] })
    ?.choices?.[0]?.message;
  if (typeof message?.content === "string") return message.content;
  if (typeof message?.refusal === "string") {
    throw malformed(model, `the model refused: ${message.refusal.slice(0, 300)}`);
  }
  throw malformed(model, "the reply has no choices[0].message.content");
}

/**
 * The message content as JSON. A surrounding Markdown code fence is tolerated:
 * servers that ignore response_format often wrap their JSON in one.
 */
function parseStructured(text: string, model: string): unknown {
  const fenced = /^\s*```[a-zA-Z]*\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text);
  try {
    return JSON.parse(fenced?.[1] ?? text);
  } catch {
    const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    throw ExecutionError.retryable(
      "malformed-output",
      `${model}: the model's answer is not the JSON its outputSchema asks for: ${JSON.stringify(shown)}`,
    );
  }
}

function embeddingsOf(reply: unknown, count: number, model: string): number[][] {
  const data = (reply as { data?: unknown })?.data;
  if (!Array.isArray(data) || data.length !== count) {
    throw malformed(model, `the reply does not hold ${count} embedding(s) in data`);
  }
  // Servers may answer out of order; `index` says which input each vector is for.
  const vectors: (number[] | undefined)[] = Array.from({ length: count }, () => undefined);
  data.forEach((item: { index?: unknown; embedding?: unknown }, position) => {
    const index = item?.index ?? position;
    const vector = item?.embedding;
    const valid = Array.isArray(vector) && vector.every((x) => typeof x === "number");
    if (!valid || typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= count) {
      throw malformed(model, `data[${position}] is not an embedding (an array of numbers) for an input`);
    }
    vectors[index] = vector;
  });
  if (vectors.includes(undefined)) throw malformed(model, "the reply's embeddings do not cover every input");
  return vectors as number[][];
}

function withUsage(output: unknown, reply: unknown): ProviderResult {
  const usage = usageOf(reply);
  return usage === undefined ? { output } : { output, usage };
}

/** OpenAI's usage counts; embeddings report no completion tokens. */
function usageOf(reply: unknown): TokenUsage | undefined {
  const usage = (reply as { usage?: Record<string, unknown> })?.usage;
  if (typeof usage !== "object" || usage === null) return undefined;
  const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
  const inputTokens = count(usage.prompt_tokens);
  const outputTokens = count(usage.completion_tokens);
  const total = count(usage.total_tokens);
  return { inputTokens, outputTokens, totalTokens: total > 0 ? total : inputTokens + outputTokens };
}
