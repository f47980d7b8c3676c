import { ExecutionError } from "../errors.ts";

/**
 * Folds a streamed chat completion, as the OpenAI SDK reads it (server-sent
 * events, each a chunk whose `choices[0].delta.content` is the next piece of
 * text, the usage in a last chunk when `stream_options.include_usage` was
 * asked for), into the reply a call without streaming would have had
 * (`choices[0].message`, `usage`), so everything after it is the same code.
 * Each piece goes to `onDelta` as it arrives.
 *
 * The SDK ends the iteration at `data: [DONE]` and at the end of the body
 * alike, so a stream counts as complete when a choice reported its
 * `finish_reason`; one that ends without it is retryable
 * `provider-unavailable`: the text so far is incomplete. A refusal streamed
 * instead of content comes back as `message.refusal`.
 */
export interface StreamedReply {
  readonly choices: readonly [{ readonly message: { readonly content?: string; readonly refusal?: string } }];
  readonly usage?: unknown;
}

export interface Chunk {
  readonly choices?: readonly {
    readonly delta?: { readonly content?: unknown; readonly refusal?: unknown } | null;
    readonly finish_reason?: unknown;
  }[];
  readonly usage?: unknown;
}

export async function foldChatStream(
  chunks: AsyncIterable<Chunk>,
  onDelta: (text: string) => void,
  context: { readonly model: string; readonly where: string },
): Promise<StreamedReply> {
  let content = "";
  let refusal = "";
  let usage: unknown;
  let finished = false;
  for await (const chunk of chunks) {
    if (typeof chunk !== "object" || chunk === null) {
      throw ExecutionError.retryable(
        "malformed-response",
        `${context.model}: a streamed chunk is not a JSON object`,
      );
    }
    if (typeof chunk.usage === "object" && chunk.usage !== null) usage = chunk.usage;
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    if (choice === undefined) continue; // the usage chunk has no choices
    const delta = choice.delta ?? {};
    if (typeof delta.content === "string" && delta.content !== "") {
      content += delta.content;
      onDelta(delta.content);
    }
    if (typeof delta.refusal === "string") refusal += delta.refusal;
    if (typeof choice.finish_reason === "string") finished = true;
  }
  if (!finished) {
    throw ExecutionError.retryable(
      "provider-unavailable",
      `${context.model}: the stream from ${context.where} ended before the model finished ` +
        `(no finish_reason) after ${content.length} characters`,
    );
  }
  // As in a reply without streaming: a refusal comes instead of content.
  const message = content === "" && refusal !== "" ? { refusal } : { content };
  return { choices: [{ message }], ...(usage === undefined ? {} : { usage }) };
}
