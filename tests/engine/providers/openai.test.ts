import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ModelVersion } from "../../../compiler/index.ts";
import { asExecutionError } from "../../../engine/errors.ts";
import { EgressPolicy } from "../../../engine/providers/egress.ts";
import { OpenAIProvider } from "../../../engine/providers/openai.ts";
import type { SecretSource } from "../../../engine/providers/provider.ts";
import { chatReply, errorReply, type FakeServer, startFakeServer } from "./fake-openai-server.ts";
import { callOf, openAiVersion } from "./provider-call.ts";

const SECRET = "sk-test-5ecret-value";
const secrets: SecretSource = (name) => (name === "LLM_API_KEY" ? SECRET : undefined);
const provider = new OpenAIProvider({ secrets, egress: new EgressPolicy({ allowLoopback: true }) });

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

function openai(fields: Parameters<typeof openAiVersion>[1] = {}): ModelVersion {
  return openAiVersion(`${server.url}/v1`, fields);
}

const only = () => {
  expect(server.requests).toHaveLength(1);
  return server.requests[0] as NonNullable<(typeof server.requests)[0]>;
};

describe("openai provider: chat", () => {
  it("sends a prompt as one user message and answers { text } with usage", async () => {
    const result = await provider.call(callOf(openai(), { prompt: "Describe the flat", extra: 1 }));
    expect(result.output).toEqual({ text: "echo: Describe the flat" });
    expect(result.usage).toEqual({ inputTokens: 12, outputTokens: 5, totalTokens: 17 });
    const request = only();
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/v1/chat/completions");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.body).toEqual({
      model: "llama-3.1-8b-instruct",
      messages: [{ role: "user", content: "Describe the flat" }],
    });
  });

  it("sends messages as they are", async () => {
    const messages = [
      { role: "system", content: "You write listings." },
      { role: "user", content: "Two rooms, sea view" },
    ];
    await provider.call(callOf(openai({ endpoint: `${server.url}/v1/` }), { messages }));
    expect(only().path).toBe("/v1/chat/completions");
    expect((only().body as { messages: unknown }).messages).toEqual(messages);
  });

  it("merges params into the body without letting them override pflow's fields", async () => {
    const params = { temperature: 0.3, max_tokens: 400, model: "other", messages: [], stream: true };
    await provider.call(callOf(openai({ params }), { prompt: "p" }));
    expect(only().body).toEqual({
      temperature: 0.3,
      max_tokens: 400,
      model: "llama-3.1-8b-instruct",
      messages: [{ role: "user", content: "p" }],
    });
  });

  it("asks for the outputSchema as a strict JSON-schema response format and parses the answer", async () => {
    server.respond(chatReply('{"label": "luxury", "score": 0.9}'));
    const schema = { type: "object", properties: { label: { type: "string" } }, required: ["label"] };
    const params = { response_format: { type: "text" } };
    const result = await provider.call(
      callOf(openai({ params }), { prompt: "classify" }, { outputSchema: schema }),
    );
    expect(result.output).toEqual({ label: "luxury", score: 0.9 });
    expect((only().body as { response_format: unknown }).response_format).toEqual({
      type: "json_schema",
      json_schema: { name: "output", schema, strict: true },
    });
  });

  it("tolerates structured output wrapped in a Markdown code fence", async () => {
    server.respond(chatReply('```json\n{"label": "basic"}\n```'));
    const result = await provider.call(
      callOf(openai(), { prompt: "c" }, { outputSchema: { type: "object" } }),
    );
    expect(result.output).toEqual({ label: "basic" });
  });

  it("fails retryably when the structured answer is not JSON", async () => {
    server.respond(chatReply("Sure! The label is luxury."));
    await expect(
      provider.call(callOf(openai(), { prompt: "c" }, { outputSchema: { type: "object" } })),
    ).rejects.toMatchObject({ code: "malformed-output", retryable: true });
  });

  it("reports no usage when the server gives none", async () => {
    server.respond(chatReply("x", null));
    const result = await provider.call(callOf(openai(), { prompt: "p" }));
    expect(result).toEqual({ output: { text: "x" } });
  });
});

describe("openai provider: embeddings", () => {
  it("embeds one string as { embedding }", async () => {
    const result = await provider.call(callOf(openai({ model: "bge-small" }), { embed: "sea view" }));
    expect(result.output).toEqual({ embedding: [8, 0, 0.5] });
    expect(result.usage).toEqual({ inputTokens: 3, outputTokens: 0, totalTokens: 3 });
    expect(only().path).toBe("/v1/embeddings");
    expect(only().body).toEqual({ model: "bge-small", input: ["sea view"] });
  });

  it("embeds an array as { embeddings } in input order, whatever order the server answers in", async () => {
    server.respond({
      json: {
        data: [
          { index: 1, embedding: [2] },
          { index: 0, embedding: [1] },
        ],
      },
    });
    const result = await provider.call(callOf(openai(), { embed: ["a", "b"] }));
    expect(result.output).toEqual({ embeddings: [[1], [2]] });
  });

  it("fails retryably when the reply lacks a vector", async () => {
    server.respond({ json: { data: [{ index: 0, embedding: "AAAA" }] } });
    await expect(provider.call(callOf(openai(), { embed: "a" }))).rejects.toMatchObject({
      code: "malformed-response",
      retryable: true,
    });
  });
});

describe("openai provider: input", () => {
  it.each([
    [{ text: "no known field" }, "needs one of messages, prompt or embed"],
    ["just a string", "needs one of messages, prompt or embed"],
    [{ prompt: "a", embed: "b" }, "exactly one of them"],
    [{ prompt: 42 }, "input.prompt must be a string"],
    [{ messages: [] }, "input.messages must be a non-empty array"],
    [{ embed: [1, 2] }, "input.embed must be a string or a non-empty array of strings"],
  ])("refuses %j non-retryably", async (input, message) => {
    const error = await provider.call(callOf(openai(), input)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "bad-input", retryable: false });
    expect((error as Error).message).toContain(message);
    expect(server.requests).toHaveLength(0);
  });
});

describe("openai provider: auth", () => {
  it("sends the secret named by apiKeySecret as a bearer token", async () => {
    await provider.call(callOf(openai({ apiKeySecret: "LLM_API_KEY" }), { prompt: "p" }));
    expect(only().headers.authorization).toBe(`Bearer ${SECRET}`);
  });

  it("sends no authorization without apiKeySecret", async () => {
    await provider.call(callOf(openai(), { prompt: "p" }));
    expect(only().headers.authorization).toBeUndefined();
  });

  it("fails non-retryably, naming the variable, when the secret is not set", async () => {
    const error = await provider
      .call(callOf(openai({ apiKeySecret: "OTHER_KEY" }), { prompt: "p" }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "missing-secret", retryable: false });
    expect((error as Error).message).toContain('"OTHER_KEY"');
    expect(server.requests).toHaveLength(0);
  });

  it("never repeats the secret's value in an error message", async () => {
    server.respond(errorReply(401, `Incorrect API key provided: ${SECRET}`));
    const error = await provider
      .call(callOf(openai({ apiKeySecret: "LLM_API_KEY" }), { prompt: "p" }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "provider-rejected", retryable: false });
    expect((error as Error).message).not.toContain(SECRET);
    expect((error as Error).message).toContain("Incorrect API key provided: [secret]");
  });
});

describe("openai provider: on the official SDK", () => {
  it("makes one attempt only: the SDK's own retries are off, the engine's retry policy rules", async () => {
    server.respond({ ...errorReply(503, "overloaded"), headers: { "retry-after": "0" } });
    await expect(provider.call(callOf(openai(), { prompt: "p" }))).rejects.toMatchObject({
      code: "provider-unavailable",
    });
    expect(server.requests).toHaveLength(1);
  });

  it("takes no key, organization, project or base URL from the SDK's environment variables", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      OPENAI_API_KEY: "sk-from-env",
      OPENAI_ORG_ID: "org-env",
      OPENAI_PROJECT_ID: "proj-env",
      OPENAI_BASE_URL: "http://169.254.169.254/v1",
    });
    try {
      await provider.call(callOf(openai(), { prompt: "p" }));
    } finally {
      for (const name of ["OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_BASE_URL"]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
    const { headers } = only();
    expect(headers.authorization).toBeUndefined();
    expect(headers["openai-organization"]).toBeUndefined();
    expect(headers["openai-project"]).toBeUndefined();
  });

  it("calls through the fetch it is given, after the egress check", async () => {
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    const withFetch = new OpenAIProvider({
      secrets,
      egress: new EgressPolicy({ allowLoopback: true }),
      fetch: recording,
    });
    await withFetch.call(callOf(openai(), { embed: "a" }));
    expect(seen).toEqual([`${server.url}/v1/embeddings`]);
  });
});

describe("openai provider: errors", () => {
  it("treats 429 as retryable rate-limited", async () => {
    server.respond({ ...errorReply(429, "slow down"), headers: { "retry-after": "7" } });
    const error = await provider.call(callOf(openai(), { prompt: "p" })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "rate-limited", retryable: true });
    expect((error as Error).message).toContain("429 (retry-after: 7): slow down");
  });

  it.each([503, 500, 408])("treats %i as retryable provider-unavailable", async (status) => {
    server.respond(errorReply(status, "overloaded"));
    const error = await provider.call(callOf(openai(), { prompt: "p" })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "provider-unavailable", retryable: true });
    expect((error as Error).message).toContain(`answered ${status}: overloaded`);
  });

  it("treats 400 as non-retryable, with the server's message truncated", async () => {
    server.respond(errorReply(400, `max_tokens is too large ${"x".repeat(500)}`));
    const error = await provider.call(callOf(openai(), { prompt: "p" })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "provider-rejected", retryable: false });
    const message = (error as Error).message;
    expect(message).toContain(`/v1/chat/completions answered 400: max_tokens is too large`);
    expect(message.length).toBeLessThan(450);
  });

  it("does not follow redirects", async () => {
    server.respond({ status: 302, headers: { location: "http://169.254.169.254/latest/meta-data" } });
    await expect(provider.call(callOf(openai(), { prompt: "p" }))).rejects.toMatchObject({
      code: "provider-rejected",
      retryable: false,
    });
    expect(server.requests).toHaveLength(1);
  });

  it("treats a 200 that is not JSON as retryable malformed-response", async () => {
    server.respond({ text: "<html>gateway</html>" });
    await expect(provider.call(callOf(openai(), { prompt: "p" }))).rejects.toMatchObject({
      code: "malformed-response",
      retryable: true,
    });
  });

  it("treats a 200 without choices[0].message.content as retryable malformed-response", async () => {
    server.respond({ json: { choices: [] } });
    await expect(provider.call(callOf(openai(), { prompt: "p" }))).rejects.toMatchObject({
      code: "malformed-response",
      retryable: true,
    });
  });

  it("treats a refused connection as retryable provider-unavailable", async () => {
    const gone = await startFakeServer();
    await gone.close();
    const error = await provider
      .call(callOf(openai({ endpoint: `${gone.url}/v1` }), { prompt: "p" }))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "provider-unavailable", retryable: true });
    expect((error as Error).message).toContain("ECONNREFUSED");
  });

  it("aborts promptly when the server hangs", async () => {
    server.respond("hang");
    const started = Date.now();
    const error = await provider
      .call(callOf(openai(), { prompt: "p" }, { signal: AbortSignal.timeout(100) }))
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((error as Error).name).toBe("TimeoutError");
    expect(asExecutionError(error)).toMatchObject({ code: "timeout", retryable: true });
    expect(server.requests).toHaveLength(1);
  });

  it("aborts promptly when the server stalls in the middle of its body", async () => {
    // Headers promise a longer body than is sent: the client waits for the rest.
    server.respond({ text: '{"choices": [', headers: { "content-length": "1000" } });
    const started = Date.now();
    const error = await provider
      .call(callOf(openai(), { prompt: "p" }, { signal: AbortSignal.timeout(100) }))
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((error as Error).name).toBe("TimeoutError");
  });

  it("refuses a loopback endpoint under the default egress policy, before connecting", async () => {
    const strict = new OpenAIProvider({ secrets, egress: new EgressPolicy() });
    await expect(strict.call(callOf(openai(), { prompt: "p" }))).rejects.toMatchObject({
      code: "egress-denied",
      retryable: false,
    });
    expect(server.requests).toHaveLength(0);
  });

  it("refuses a reply larger than the limit", async () => {
    const small = new OpenAIProvider({
      secrets,
      egress: new EgressPolicy({ allowLoopback: true }),
      maxResponseBytes: 100,
    });
    server.respond(chatReply("x".repeat(500)));
    await expect(small.call(callOf(openai(), { prompt: "p" }))).rejects.toMatchObject({
      code: "response-too-large",
      retryable: false,
    });
  });
});
