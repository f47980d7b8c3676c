import { createParser, type EventSourceMessage } from "eventsource-parser";
import { ExecutionError } from "../errors.ts";
import { type JsonPost, readBody, readFailure, tooLarge, whereOf } from "./json-post.ts";

/**
 * Reads a streamed chat completion (a request with `stream: true`): server-sent
 * events, each `data:` a chunk whose `choices[0].delta.content` is the next
 * piece of text, the usage in a last chunk when `stream_options.include_usage`
 * was asked for, and `data: [DONE]` at the end. Each piece goes to `onDelta` as
 * it arrives; the result is the reply a call without streaming would have had
 * (`choices[0].message`, `usage`), so everything after it is the same code.
 *
 * What can go wrong, decided here:
 * - a chunk that is not JSON, or a body that is neither events nor JSON:
 *   retryable `malformed-response`;
 * - an error the server reports inside the stream (an `error` chunk or event):
 *   retryable `provider-unavailable`, as a 5xx would have been;
 * - a stream that ends before the model finished (no `[DONE]` and no
 *   `finish_reason`), or a connection that breaks: retryable
 *   `provider-unavailable`: the text so far is incomplete;
 * - more than `limit` bytes: non-retryable `response-too-large`.
 * A server that ignores `stream` and answers with one JSON reply is read as
 * such, its whole text one delta.
 */
export interface StreamedReply {
  readonly choices: readonly [{ readonly message: { readonly content?: string; readonly refusal?: string } }];
  readonly usage?: unknown;
}

export async function readChatStream(
  response: Response,
  post: JsonPost,
  limit: number,
  onDelta: (text: string) => void,
): Promise<unknown> {
  const type = response.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("text/event-stream"))
    return readWholeReply(response, post, limit, onDelta);
  const chunks = new ChunkCollector(post, onDelta);
  const parser = createParser({ onEvent: (event) => chunks.accept(event) });
  if (response.body === null) return chunks.reply();
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  let size = 0;
  try {
    while (!chunks.done) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge(post, limit);
      parser.feed(decoder.decode(value, { stream: true }));
      chunks.throwIfFailed();
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw readFailure(error, post);
  }
  // [DONE] ends the reply; the connection may stay open (keep-alive) for the next.
  if (chunks.done) await reader.cancel().catch(() => {});
  return chunks.reply();
}

/** The chunks of one stream, folded into the reply they add up to. */
class ChunkCollector {
  readonly #post: JsonPost;
  readonly #onDelta: (text: string) => void;
  #content = "";
  #refusal = "";
  #usage: unknown;
  #finished = false;
  #failure: ExecutionError | undefined;
  /** `[DONE]` arrived: nothing follows. */
  done = false;

  constructor(post: JsonPost, onDelta: (text: string) => void) {
    this.#post = post;
    this.#onDelta = onDelta;
  }

  /** Called by the parser for each event. A failure is kept, not thrown: the reader checks after each read. */
  accept(event: EventSourceMessage): void {
    if (this.done || this.#failure !== undefined) return;
    if (event.data === "[DONE]") {
      this.done = true;
      return;
    }
    let chunk: Chunk;
    try {
      chunk = JSON.parse(event.data) as Chunk;
    } catch {
      this.#failure = this.#malformed(
        `a streamed chunk is not JSON: ${JSON.stringify(event.data.slice(0, 200))}`,
      );
      return;
    }
    if (event.event === "error" || chunk?.error !== undefined) {
      const said = chunk?.error?.message ?? chunk?.message ?? event.data;
      this.#failure = ExecutionError.retryable(
        "provider-unavailable",
        `${this.#post.model}: ${whereOf(this.#post.url)} reported an error in the stream: ${String(said).slice(0, 300)}`,
      );
      return;
    }
    if (typeof chunk !== "object" || chunk === null) {
      this.#failure = this.#malformed("a streamed chunk is not a JSON object");
      return;
    }
    if (typeof chunk.usage === "object" && chunk.usage !== null) this.#usage = chunk.usage;
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    if (choice === undefined) return; // the usage chunk has no choices
    const { content, refusal } = choice.delta ?? {};
    if (typeof content === "string" && content !== "") {
      this.#content += content;
      this.#onDelta(content);
    }
    if (typeof refusal === "string") this.#refusal += refusal;
    if (typeof choice.finish_reason === "string") this.#finished = true;
  }

  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** The reply the stream added up to; throws if it ended before the model finished. */
  reply(): StreamedReply {
    this.throwIfFailed();
    if (!this.done && !this.#finished) {
      throw ExecutionError.retryable(
        "provider-unavailable",
        `${this.#post.model}: the stream from ${whereOf(this.#post.url)} ended before the model finished ` +
          `(no finish_reason and no [DONE]) after ${this.#content.length} characters`,
      );
    }
    // As in a reply without streaming: a refusal comes instead of content.
    const message =
      this.#content === "" && this.#refusal !== "" ? { refusal: this.#refusal } : { content: this.#content };
    return {
      choices: [{ message }],
      ...(this.#usage === undefined ? {} : { usage: this.#usage }),
    };
  }

  #malformed(message: string): ExecutionError {
    return ExecutionError.retryable("malformed-response", `${this.#post.model}: ${message}`);
  }
}

interface Chunk {
  readonly choices?: readonly {
    readonly delta?: { readonly content?: unknown; readonly refusal?: unknown };
    readonly finish_reason?: unknown;
  }[];
  readonly usage?: unknown;
  readonly error?: { readonly message?: unknown };
  readonly message?: unknown;
}

/** The server ignored `stream`: one JSON reply, whose whole text is the one delta. */
async function readWholeReply(
  response: Response,
  post: JsonPost,
  limit: number,
  onDelta: (text: string) => void,
): Promise<unknown> {
  const text = await readBody(response, limit, post);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw ExecutionError.retryable(
      "malformed-response",
      `${post.model}: ${whereOf(post.url)} answered a streamed request with a body that is neither events nor JSON`,
    );
  }
  const content = (reply as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message
    ?.content;
  if (typeof content === "string" && content !== "") onDelta(content);
  return reply;
}
