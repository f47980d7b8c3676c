import { afterEach, describe, expect, it } from "vitest";
import { modelHealthRoutes } from "../../server/routes/model-health.ts";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import { type TestServer, testServer } from "./harness.ts";

// GET /v1/models/{name}/health: each version's calls, error and timeout rates
// and latency quantiles, from the calls workers really made.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function runAndWait(name: string): Promise<void> {
  const response = await server?.request("POST", `/v1/workflows/${name}/runs?wait=20`, { body: {} });
  expect([200, 202]).toContain(response?.status);
}

describe("model health", () => {
  it("counts each version's calls, failures and timeouts, and their latency", async () => {
    server = await testServer({
      routes: [runRoutes, modelHealthRoutes],
      definitions: [
        workflow("ok", `    m: { type: model, model: "writer@1" }\n`),
        workflow("bad", `    m: { type: model, model: "writer@2", onError: continue }\n`),
        workflow(
          "slow",
          `    m: { type: model, model: "writer@3", timeout: 50ms, retry: { maxAttempts: 2 }, onError: continue }\n`,
        ),
        mockModel("writer", {
          "1": "response: 1, latency: 120ms",
          "2": 'error: "the model is down"',
          "3": "response: 3, latency: 5s",
        }),
      ],
    });
    for (let i = 0; i < 3; i++) await runAndWait("ok");
    await runAndWait("bad");
    await runAndWait("slow");
    await server.engine.services.calls.flush();

    const response = await server.request("GET", "/v1/models/writer/health?window=10m");
    expect(response.status).toBe(200);
    const { versions } = response.json;
    expect(versions["1"]).toMatchObject({ calls: 3, errorRate: 0, timeoutRate: 0 });
    // 120 ms falls in the 100–250 ms bucket.
    expect(versions["1"].latencyMs.p50).toBeGreaterThan(100);
    expect(versions["1"].latencyMs.p99).toBeLessThanOrEqual(250);
    expect(versions["2"]).toMatchObject({ calls: 1, errorRate: 1, timeoutRate: 0 });
    // A timeout is retryable: both attempts were calls, and both timed out.
    expect(versions["3"]).toMatchObject({ calls: 2, errorRate: 1, timeoutRate: 1 });
    expect(response.json).toMatchObject({ name: "writer", window: "10m" });
  });

  it("answers a version without calls with nulls, an unknown model with 404 and a bad window with 400", async () => {
    server = await testServer({
      routes: [modelHealthRoutes],
      definitions: [mockModel("writer", { "1": "response: 1" })],
    });
    const quiet = await server.request("GET", "/v1/models/writer/health");
    expect(quiet.json.versions["1"]).toEqual({
      calls: 0,
      errorRate: null,
      timeoutRate: null,
      latencyMs: { p50: null, p95: null, p99: null },
    });
    expect((await server.request("GET", "/v1/models/nobody/health")).status).toBe(404);
    const bad = await server.request("GET", "/v1/models/writer/health?window=30s");
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toContain("1m to 24h");
  });
});
