import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ModelVersion } from "../../../compiler/index.ts";
import { asExecutionError } from "../../../engine/errors.ts";
import { EgressPolicy } from "../../../engine/providers/egress.ts";
import { estimateUsage } from "../../../engine/providers/mock.ts";
import { OpenAIProvider } from "../../../engine/providers/openai.ts";
import type { ProviderCall } from "../../../engine/providers/provider.ts";
import {
  chatReply,
  contentChunk,
  errorReply,
  type FakeServer,
  startFakeServer,
  streamReply,
  usageChunk,
} from "./fake-openai-server.ts";
import { callOf, openAiVersion } from "./provider-call.ts";

// The openai provider with `onDelta` (a node with stream: true): a chat call
// streams, its pieces reach onDelta in order, and the result is what the call
// without streaming would have given.

const provider = new OpenAIProvider({
  secrets: () => undefined,
  egress: new EgressPolicy({ allowLoopback: true }),
});

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

function openai(fields: Parameters<typeof openAiVersion>[1] = {}): ModelVersion {
  return openAiVersion(`${server.url}/v1`, fields);
}

/** Calls the provider streaming; the deltas it received, and its result or error. */
async function streamed(
  input: unknown,
  extra: Partial<ProviderCall> = {},
  version: ModelVersion = openai(),
): Promise<{ deltas: string[]; result?: Awaited<ReturnType<OpenAIProvider["call"]>>; error?: unknown }> {
  const deltas: string[] = [];
  const call = callOf(version, input, { onDelta: (text) => deltas.push(text), ...extra });
  try {
    return { deltas, result: await provider.call(call) };
  } catch (error) {
    return { deltas, error };
  }
}

describe("openai provider: streaming chat", () => {
  it("asks for a stream with usage, relays each piece in order, and answers the whole text", async () => {
    server.respond(streamReply(["A bright ", "two-room ", "flat."]));
    const { deltas, result } = await streamed(
      { prompt: "Describe the flat" },
      {},
      openai({ params: { temperature: 0.2, stream: false, stream_options: { include_usage: false } } }),
    );
    expect(deltas).toEqual(["A bright ", "two-room ", "flat."]);
    expect(result).toEqual({
      output: { text: "A bright two-room flat." },
      usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 },
    });
    const request = server.requests[0];
    expect(request?.headers.accept).toBe("text/event-stream");
    expect(request?.body).toEqual({
      temperature: 0.2,
      model: "llama-3.1-8b-instruct",
      messages: [{ role: "user", content: "Describe the flat" }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("gives the same output and usage as the same answer without streaming", async () => {
    const input = { prompt: "Describe the flat" };
    const plain = await provider.call(callOf(openai(), input));
    const { result, deltas } = await streamed(input);
    expect(result).toEqual(plain);
    expect(deltas.join("")).toBe((plain.output as { text: string }).text);
    expect(deltas.length).toBeGreaterThan(1);
  });

  it("estimates the usage when the stream reports none", async () => {
    server.respond(streamReply(["Sea ", "view."], { usage: null }));
    const input = { prompt: "Describe the flat" };
    const { result } = await streamed(input);
    expect(result?.usage).toEqual(estimateUsage(input, { text: "Sea view." }));
  });

  it("streams the JSON text of an outputSchema answer and parses it at the end", async () => {
    server.respond(streamReply(['{"label": ', '"luxury", ', '"score": 0.9}']));
    const schema = { type: "object", properties: { label: { type: "string" } } };
    const { deltas, result } = await streamed({ prompt: "classify" }, { outputSchema: schema });
    expect(deltas.join("")).toBe('{"label": "luxury", "score": 0.9}');
    expect(result?.output).toEqual({ label: "luxury", score: 0.9 });
    expect(server.requests[0]?.body).toMatchObject({ response_format: { type: "json_schema" } });
  });

  it("accepts a stream whose model finished but that closed without [DONE]", async () => {
    server.respond(streamReply(["Done", "."], { ending: "end" }));
    const { result } = await streamed({ prompt: "p" });
    expect(result?.output).toEqual({ text: "Done." });
  });

  it("reads a server that ignores stream and answers one JSON reply: its text is one delta", async () => {
    server.respond(chatReply("Whole answer."));
    const { deltas, result } = await streamed({ prompt: "p" });
    expect(deltas).toEqual(["Whole answer."]);
    expect(result?.output).toEqual({ text: "Whole answer." });
    expect(result?.usage).toEqual({ inputTokens: 12, outputTokens: 5, totalTokens: 17 });
  });

  it("does not stream embeddings: one JSON call, no deltas", async () => {
    const { deltas, result } = await streamed({ embed: "sea view" });
    expect(deltas).toEqual([]);
    expect(result?.output).toEqual({ embedding: [8, 0, 0.5] });
    expect(server.requests[0]?.body).not.toHaveProperty("stream");
  });
});

describe("openai provider: streaming failures", () => {
  it("fails retryably, clearly, when the stream ends before the model finished", async () => {
    server.respond({ stream: { events: [contentChunk("A bright "), contentChunk("two-")], ending: "end" } });
    const { deltas, error } = await streamed({ prompt: "p" });
    expect(deltas).toEqual(["A bright ", "two-"]);
    expect(error).toMatchObject({ code: "provider-unavailable", retryable: true });
    expect((error as Error).message).toContain("ended before the model finished");
  });

  it("fails retryably when the connection breaks mid-stream", async () => {
    server.respond({ stream: { events: [contentChunk("A bright ")], ending: "reset" } });
    const { error } = await streamed({ prompt: "p" });
    expect(error).toMatchObject({ code: "provider-unavailable", retryable: true });
    expect((error as Error).message).toContain("broke off");
  });

  it("fails retryably on a chunk that is not JSON", async () => {
    server.respond({ stream: { events: [contentChunk("A "), "{not json"] } });
    const { error } = await streamed({ prompt: "p" });
    expect(error).toMatchObject({ code: "malformed-response", retryable: true });
    expect((error as Error).message).toContain("a streamed chunk is not JSON");
  });

  it("fails retryably on an error the server sends inside the stream", async () => {
    server.respond({
      stream: { events: [contentChunk("A "), { error: { message: "the GPU fell over" } }] },
    });
    const { error } = await streamed({ prompt: "p" });
    expect(error).toMatchObject({ code: "provider-unavailable", retryable: true });
    expect((error as Error).message).toContain("the GPU fell over");
  });

  it("reports a refusal streamed instead of content", async () => {
    const refusal = { choices: [{ index: 0, delta: { refusal: "I cannot help" }, finish_reason: "stop" }] };
    server.respond({ stream: { events: [refusal, usageChunk()] } });
    const { error } = await streamed({ prompt: "p" });
    expect(error).toMatchObject({ code: "malformed-response", retryable: true });
    expect((error as Error).message).toContain("the model refused: I cannot help");
  });

  it("classifies a status error before the stream as without streaming", async () => {
    server.respond({ ...errorReply(429, "slow down"), headers: { "retry-after": "3" } });
    const { error } = await streamed({ prompt: "p" });
    expect(error).toMatchObject({ code: "rate-limited", retryable: true });
  });

  it("stops when the attempt aborts mid-stream, with the signal's reason", async () => {
    server.respond(streamReply(["one ", "two ", "three ", "four"], { chunkDelayMs: 150 }));
    const controller = new AbortController();
    const seen: string[] = [];
    const { error } = await streamed(
      { prompt: "p" },
      {
        signal: controller.signal,
        onDelta: (text) => {
          seen.push(text);
          controller.abort(new DOMException("the attempt took longer than 100 ms", "TimeoutError"));
        },
      },
    );
    expect(seen).toEqual(["one "]);
    expect((error as Error).name).toBe("TimeoutError");
    expect(asExecutionError(error)).toMatchObject({ code: "timeout", retryable: true });
  });

  it("refuses a stream larger than the limit", async () => {
    const small = new OpenAIProvider({
      secrets: () => undefined,
      egress: new EgressPolicy({ allowLoopback: true }),
      maxResponseBytes: 400,
    });
    server.respond(streamReply(Array.from({ length: 20 }, () => "x".repeat(40))));
    const deltas: string[] = [];
    const call = callOf(openai(), { prompt: "p" }, { onDelta: (text) => deltas.push(text) });
    await expect(small.call(call)).rejects.toMatchObject({ code: "response-too-large", retryable: false });
  });

  it("keeps the egress check: a denied endpoint is never called", async () => {
    const strict = new OpenAIProvider({ secrets: () => undefined, egress: new EgressPolicy() });
    const call = callOf(openai(), { prompt: "p" }, { onDelta: () => {} });
    await expect(strict.call(call)).rejects.toMatchObject({ code: "egress-denied", retryable: false });
    expect(server.requests).toHaveLength(0);
  });
});
