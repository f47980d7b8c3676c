import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../server/metrics.ts";
import { opsRoutes } from "../../server/routes/ops.ts";
import { runRoutes } from "../../server/routes/runs.ts";
import { READER_KEY, type TestServer, testServer, WRITER_KEY } from "./harness.ts";

// API keys, scopes, the rate limit per key and the security headers, against a
// real listening server.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("security", () => {
  it("a burst over the rate limit gets 429 problems with Retry-After, per key", async () => {
    server = await testServer({ routes: [runRoutes], rateLimit: { max: 5, windowMs: 60_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await server.request("GET", "/v1/runs", { key: READER_KEY })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    const limited = await server.request("GET", "/v1/runs", { key: READER_KEY });
    expect(limited.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.json).toMatchObject({
      status: 429,
      type: expect.stringContaining("/problems/rate-limited"),
    });
    // Another key has a budget of its own.
    expect((await server.request("GET", "/v1/runs", { key: WRITER_KEY })).status).toBe(200);
  });

  it("health and metrics are public and not rate limited", async () => {
    server = await testServer({
      routes: [opsRoutes(createMetrics())],
      rateLimit: { max: 1, windowMs: 60_000 },
    });
    for (let i = 0; i < 3; i++)
      expect((await server.request("GET", "/healthz", { key: null })).status).toBe(200);
  });

  it("a missing or wrong key is 401, a key without the scope 403, all as problems", async () => {
    server = await testServer({ routes: [runRoutes] });
    const missing = await server.request("GET", "/v1/runs", { key: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe("Bearer");
    expect((await server.request("GET", "/v1/runs", { key: "not-a-key-at-all-000000" })).json).toMatchObject({
      status: 401,
      detail: "the API key is not valid",
    });
    const forbidden = await server.request("POST", "/v1/workflows/x/runs", { key: READER_KEY, body: {} });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.detail).toContain("runs:write");
  });

  it("answers carry security headers", async () => {
    server = await testServer({ routes: [runRoutes] });
    const response = await server.request("GET", "/v1/runs");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });

  it("an unknown route is a 404 problem", async () => {
    server = await testServer({ routes: [] });
    const response = await server.request("GET", "/v1/nothing-here");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
  });
});

describe("body limits", () => {
  it("a 50 MB body is refused with 413 before it is read", async () => {
    server = await testServer({ routes: [runRoutes] });
    const huge = new Uint8Array(50 * 1024 * 1024).fill(32);
    const response = await server.request("POST", "/v1/workflows/x/runs", { raw: huge });
    expect(response.status).toBe(413);
    expect(response.json).toMatchObject({
      status: 413,
      type: expect.stringContaining("/problems/payload-too-large"),
    });
  });
});
