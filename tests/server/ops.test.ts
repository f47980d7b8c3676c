import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../server/metrics.ts";
import { opsRoutes } from "../../server/routes/ops.ts";
import { type TestServer, testServer } from "./harness.ts";

// Health, readiness and metrics are public: probes and Prometheus carry no key.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<TestServer> {
  const metrics = createMetrics();
  server = await testServer({
    routes: [opsRoutes(metrics)],
    observer: metrics.observer,
  });
  return server;
}

describe("GET /healthz", () => {
  it("answers 200 ok without a key", async () => {
    const s = await start();
    const response = await s.request("GET", "/healthz", { key: null });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ status: "ok" });
  });
});

describe("GET /readyz", () => {
  it("answers 200 with both checks ok", async () => {
    const s = await start();
    const response = await s.request("GET", "/readyz", { key: null });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ status: "ready", checks: { store: "ok", broker: "ok" } });
  });

  it("answers 503 unavailable, naming the store, when the store is closed", async () => {
    const s = await start();
    await s.engine.services.store.close();
    const response = await s.request("GET", "/readyz", { key: null });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(response.json).toMatchObject({
      type: "https://schemas.propertyflow.ai/pflow/problems/unavailable",
      status: 503,
      errors: [{ check: "store" }],
    });
    expect(response.json.detail).toMatch(/store/);
    expect(response.json.detail).not.toMatch(/broker/);
  });

  it("names the broker when the broker is closed", async () => {
    const s = await start();
    await s.engine.services.broker.close();
    const response = await s.request("GET", "/readyz", { key: null });
    expect(response.status).toBe(503);
    expect(response.json.errors).toEqual([{ check: "broker", message: expect.any(String) }]);
  });

  it("counts a ping that hangs as failed after its 2 s timeout", async () => {
    const s = await start();
    s.engine.services.broker.ping = () => new Promise<void>(() => {});
    const started = Date.now();
    const response = await s.request("GET", "/readyz", { key: null });
    expect(response.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(response.json.errors).toEqual([
      { check: "broker", message: "broker did not answer within 2000 ms" },
    ]);
  });
});

describe("GET /metrics", () => {
  it("serves the Prometheus text format without a key, default metrics included", async () => {
    const s = await start();
    const response = await s.request("GET", "/metrics", { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.text).toMatch(/^# HELP pflow_process_cpu_user_seconds_total /m);
    expect(response.text).toMatch(/^pflow_queue_depth 0$/m);
  });
});
