import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP server on 127.0.0.1 (a free port) that speaks enough of the
 * OpenAI API for the providers' tests: chat completions echo the last message,
 * embeddings return a small vector per input. A test replaces the answer with
 * `respond()` (a fixed reply, or a function of the request: statuses, latency,
 * malformed bodies, a hang), and reads what the provider sent in `requests`.
 * It also records what a limit must bound: when each request arrived, and the
 * most requests in flight at once (`maxInFlight`). A chat request with
 * `stream: true` is answered with server-sent events, as OpenAI streams
 * (`streamReply()`: chunks, a delay between them, a usage chunk, `[DONE]`, or
 * a stream cut off mid-way).
 */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  readonly body: unknown;
  /** When it arrived (epoch ms). */
  readonly receivedAt: number;
}

export interface ReplySpec {
  readonly status?: number;
  /** Sent as JSON. */
  readonly json?: unknown;
  /** Sent as it is (for bodies that are not JSON); wins over `json`. */
  readonly text?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Wait this long before answering. */
  readonly delayMs?: number;
  /** Answer with server-sent events instead (wins over `json` and `text`). */
  readonly stream?: StreamSpec;
}

export interface StreamSpec {
  /** Each a chunk's `data:` as it is (a chunk object is sent as JSON, a string as written). */
  readonly events: readonly unknown[];
  /** Wait this long before each event. */
  readonly chunkDelayMs?: number;
  /** Send the first event only once this resolves (headers go at once): a test's gate. */
  readonly after?: Promise<void>;
  /**
   * After the events: `done` sends `data: [DONE]` and ends the response (the
   * default); `end` ends it without [DONE]; `reset` destroys the connection mid-body.
   */
  readonly ending?: "done" | "end" | "reset";
}

/** "hang": never answer (the connection stays open until the client gives up or the server closes). */
export type Reply = ReplySpec | "hang";
export type Handler = (request: RecordedRequest) => Reply;

export interface FakeServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** The most requests it has been answering at once. */
  readonly maxInFlight: number;
  respond(reply: Reply | Handler): void;
  /** Back to the OpenAI-like default answers, with no requests recorded. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_USAGE = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };

/** A chat completion whose message content is `content`. */
export function chatReply(content: string | null, usage: unknown = DEFAULT_USAGE): ReplySpec {
  return {
    json: {
      id: "chatcmpl-test",
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage,
    },
  };
}

/** One streamed chat chunk carrying `content`, the last one with a finish_reason. */
export function contentChunk(content: string, finishReason: string | null = null): unknown {
  return {
    id: "chatcmpl-test",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: { content }, finish_reason: finishReason }],
  };
}

/** The usage chunk of `stream_options.include_usage`: no choices. */
export function usageChunk(usage: unknown = DEFAULT_USAGE): unknown {
  return { id: "chatcmpl-test", object: "chat.completion.chunk", choices: [], usage };
}

/** A streamed chat completion of `pieces`, then the usage chunk (unless `usage` is null), then [DONE]. */
export function streamReply(
  pieces: readonly string[],
  options: { usage?: unknown; chunkDelayMs?: number; ending?: StreamSpec["ending"] } = {},
): ReplySpec {
  const events = pieces.map((piece, i) => contentChunk(piece, i === pieces.length - 1 ? "stop" : null));
  if (options.usage !== null) events.push(usageChunk(options.usage ?? DEFAULT_USAGE));
  return {
    stream: {
      events,
      ...(options.chunkDelayMs === undefined ? {} : { chunkDelayMs: options.chunkDelayMs }),
      ...(options.ending === undefined ? {} : { ending: options.ending }),
    },
  };
}

/** OpenAI's error body shape. */
export function errorReply(status: number, message: string): ReplySpec {
  return { status, json: { error: { message, type: "invalid_request_error", code: null } } };
}

const openAi: Handler = (request) => {
  const body = request.body as { messages?: { content?: unknown }[]; input?: string[] };
  if (request.path.endsWith("/chat/completions")) {
    const last = body.messages?.at(-1)?.content;
    const echo = `echo: ${typeof last === "string" ? last : JSON.stringify(last)}`;
    if ((request.body as { stream?: unknown }).stream === true)
      return streamReply(echo.match(/\S+\s*/g) ?? []);
    return chatReply(echo);
  }
  if (request.path.endsWith("/embeddings")) {
    const inputs = body.input ?? [];
    return {
      json: {
        object: "list",
        data: inputs.map((text, index) => ({
          object: "embedding",
          index,
          embedding: [text.length, index, 0.5],
        })),
        usage: { prompt_tokens: inputs.length * 3, total_tokens: inputs.length * 3 },
      },
    };
  }
  return errorReply(404, `no route ${request.path}`);
};

export async function startFakeServer(): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let handler: Handler = openAi;
  const server = createServer((req, res) => {
    void serve(req, res);
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once("close", () => {
      inFlight--;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Recorded as text.
    }
    const request: RecordedRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body,
      receivedAt,
    };
    requests.push(request);
    const reply = handler(request);
    if (reply === "hang") return;
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (res.destroyed) return;
    if (reply.stream) {
      await sendStream(res, reply.stream, reply.status ?? 200, reply.headers);
      return;
    }
    const payload = reply.text ?? JSON.stringify(reply.json ?? {});
    res.writeHead(reply.status ?? 200, {
      "content-type": reply.text === undefined ? "application/json" : "text/plain",
      ...reply.headers,
    });
    res.end(payload);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    respond(reply) {
      handler = typeof reply === "function" ? reply : () => reply;
    },
    reset() {
      handler = openAi;
      requests.length = 0;
      maxInFlight = inFlight;
    },
    close() {
      // Hanging requests keep their connections open; end them, or close() waits forever.
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

async function sendStream(
  res: ServerResponse,
  stream: StreamSpec,
  status: number,
  headers: Readonly<Record<string, string>> | undefined,
): Promise<void> {
  res.writeHead(status, { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers });
  res.flushHeaders();
  await stream.after;
  for (const event of stream.events) {
    if (stream.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, stream.chunkDelayMs));
    if (res.destroyed) return;
    res.write(`data: ${typeof event === "string" ? event : JSON.stringify(event)}\n\n`);
  }
  const ending = stream.ending ?? "done";
  if (ending === "reset") {
    // Let the last chunk reach the client, then break the connection mid-body.
    await new Promise((resolve) => setTimeout(resolve, 20));
    res.destroy();
    return;
  }
  res.end(ending === "done" ? "data: [DONE]\n\n" : undefined);
}
