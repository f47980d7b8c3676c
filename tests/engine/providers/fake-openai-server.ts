import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP server on 127.0.0.1 (a free port) that speaks enough of the
 * OpenAI API for the providers' tests: chat completions echo the last message,
 * embeddings return a small vector per input. A test replaces the answer with
 * `respond()` (a fixed reply, or a function of the request: statuses, latency,
 * malformed bodies, a hang), and reads what the provider sent in `requests`.
 * It also records what a limit must bound: when each request arrived, and the
 * most requests in flight at once (`maxInFlight`).
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

/** OpenAI's error body shape. */
export function errorReply(status: number, message: string): ReplySpec {
  return { status, json: { error: { message, type: "invalid_request_error", code: null } } };
}

const openAi: Handler = (request) => {
  const body = request.body as { messages?: { content?: unknown }[]; input?: string[] };
  if (request.path.endsWith("/chat/completions")) {
    const last = body.messages?.at(-1)?.content;
    return chatReply(`echo: ${typeof last === "string" ? last : JSON.stringify(last)}`);
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
