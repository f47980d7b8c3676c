import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ModelVersion } from "../../../compiler/index.ts";
import { EgressPolicy } from "../../../engine/providers/egress.ts";
import { HttpProvider } from "../../../engine/providers/http.ts";
import { createProviders } from "../../../engine/providers/registry.ts";
import { errorReply, type FakeServer, startFakeServer } from "./fake-openai-server.ts";
import { callOf } from "./provider-call.ts";

const secrets = (name: string) => (name === "SCORER_KEY" ? "scorer-token" : undefined);
const egress = new EgressPolicy({ allowLoopback: true });
const provider = new HttpProvider({ secrets, egress });

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
  server.respond({ json: { result: { label: "luxury", score: 0.92 }, model: "scorer-v3" } });
});

function http(fields: Partial<Extract<ModelVersion, { provider: "http" }>> = {}): ModelVersion {
  return {
    provider: "http",
    endpoint: `${server.url}/score?tenant=a`,
    apiKeySecret: null,
    headers: {},
    response: null,
    ...fields,
  };
}

describe("http provider", () => {
  it("POSTs the input as JSON and, without response, outputs the reply body", async () => {
    const input = { text: "Sea view flat", lang: "en" };
    const result = await provider.call(callOf(http(), input));
    expect(result.output).toEqual({ result: { label: "luxury", score: 0.92 }, model: "scorer-v3" });
    // The server reports no tokens: estimated from the input and output, as for mock.
    expect(result.usage?.inputTokens).toBeGreaterThan(0);
    expect(result.usage?.totalTokens).toBe(
      (result.usage?.inputTokens ?? 0) + (result.usage?.outputTokens ?? 0),
    );
    const request = server.requests[0];
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/score?tenant=a");
    expect(request?.body).toEqual(input);
    expect(request?.headers["content-type"]).toBe("application/json");
  });

  it("maps the reply with response", async () => {
    const version = http({ response: '{ "label": result.label, "confident": result.score > 0.9 }' });
    const result = await provider.call(callOf(version, {}));
    expect(result.output).toEqual({ label: "luxury", confident: true });
  });

  it("outputs null when response matches nothing", async () => {
    const result = await provider.call(callOf(http({ response: "result.missing" }), {}));
    expect(result.output).toBeNull();
  });

  it("fails non-retryably when the mapping fails", async () => {
    const version = http({ response: '$error("unexpected reply")' });
    await expect(provider.call(callOf(version, {}))).rejects.toMatchObject({
      code: "expression",
      retryable: false,
      message: 'expression "$error("unexpected reply")" failed: unexpected reply',
    });
  });

  it("sends the version's headers and bearer auth from the secret", async () => {
    const version = http({
      headers: { "X-Tenant": "acme", Authorization: "ignored" },
      apiKeySecret: "SCORER_KEY",
    });
    await provider.call(callOf(version, {}));
    expect(server.requests[0]?.headers["x-tenant"]).toBe("acme");
    expect(server.requests[0]?.headers.authorization).toBe("Bearer scorer-token");
  });

  it("treats a reply that is not JSON as retryable malformed-response", async () => {
    server.respond({ text: "OK" });
    await expect(provider.call(callOf(http(), {}))).rejects.toMatchObject({
      code: "malformed-response",
      retryable: true,
    });
  });

  it("classifies statuses like the openai provider", async () => {
    server.respond(errorReply(503, "warming up"));
    await expect(provider.call(callOf(http(), {}))).rejects.toMatchObject({
      code: "provider-unavailable",
      retryable: true,
    });
    server.respond({ status: 422, json: { detail: "text too long" } });
    const error = await provider.call(callOf(http(), {})).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "provider-rejected", retryable: false });
    // The query string may carry a key: messages name the endpoint without it.
    expect((error as Error).message).toBe(`writer@1: ${server.url}/score answered 422: text too long`);
  });

  it("refuses an endpoint that is not an http(s) URL", async () => {
    await expect(provider.call(callOf(http({ endpoint: "scorer:80/x y" }), {}))).rejects.toMatchObject({
      code: "egress-denied",
    });
    await expect(provider.call(callOf(http({ endpoint: "not a url" }), {}))).rejects.toMatchObject({
      code: "bad-endpoint",
      retryable: false,
    });
  });
});

describe("createProviders", () => {
  it("gives one provider per kind and finds a version's provider", async () => {
    const providers = createProviders({ secrets, egress });
    expect(providers.get("http")).toBeInstanceOf(HttpProvider);
    const mock: ModelVersion = {
      provider: "mock",
      response: { t: "literal", value: { text: "hello" } },
      latencyMs: 0,
      failures: 0,
      error: null,
    };
    expect(providers.providerFor(mock)).toBe(providers.get("mock"));
    const result = await providers.providerFor(mock).call(callOf(mock, {}));
    expect(result.output).toEqual({ text: "hello" });
    expect(() => providers.get("grpc" as never)).toThrow('no provider "grpc"');
  });

  it("uses the fetch it is given", async () => {
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    const providers = createProviders({ secrets, egress, fetch: recording });
    await providers.get("http").call(callOf(http(), {}));
    expect(seen).toEqual([`${server.url}/score?tenant=a`]);
  });
});
