import { afterEach, describe, expect, it } from "vitest";
import { CALL_LATENCY_BOUNDS_MS } from "../../engine/store/records.ts";
import { modelUsageRoutes } from "../../server/routes/model-usage.ts";
import { mockModel } from "../engine/harness.ts";
import { READER_KEY, type TestServer, testServer } from "./harness.ts";

// GET /v1/models/{name}/usage: a model's calls over time, step by step, from
// the per-minute call statistics in the Store.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const MINUTE = 60_000;

function latency(bucket: number, count: number): number[] {
  const counts = new Array<number>(CALL_LATENCY_BOUNDS_MS.length + 1).fill(0);
  counts[bucket] = count;
  return counts;
}

describe("model usage over time", () => {
  it("puts each minute's calls in its step, per version, with errors, timeouts and p95", async () => {
    server = await testServer({
      routes: [modelUsageRoutes],
      definitions: [mockModel("writer", { "1": "response: 1", "2": "response: 2" })],
    });
    const now = Date.now();
    const minute = now - (now % MINUTE);
    await server.engine.services.store.recordModelCalls([
      // 10 minutes ago: the last of three one-hour steps.
      {
        model: "writer@1",
        minute: minute - 10 * MINUTE,
        calls: 4,
        errors: 1,
        timeouts: 1,
        latency: latency(1, 4),
      },
      // 150 minutes ago: the first step.
      {
        model: "writer@1",
        minute: minute - 150 * MINUTE,
        calls: 2,
        errors: 0,
        timeouts: 0,
        latency: latency(0, 2),
      },
      {
        model: "writer@2",
        minute: minute - 150 * MINUTE,
        calls: 3,
        errors: 3,
        timeouts: 0,
        latency: latency(2, 3),
      },
      // Before the window: not counted.
      {
        model: "writer@1",
        minute: minute - 200 * MINUTE,
        calls: 50,
        errors: 0,
        timeouts: 0,
        latency: latency(0, 50),
      },
    ]);

    const response = await server.request("GET", "/v1/models/writer/usage?window=3h&buckets=3", {
      key: READER_KEY,
    });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ name: "writer", window: "3h", stepMs: 3_600_000 });
    const steps = response.json.buckets as { from: string; to: string; versions: Record<string, unknown> }[];
    expect(steps).toHaveLength(3);
    expect(steps.map((s) => Date.parse(s.to) - Date.parse(s.from))).toEqual([
      3_600_000, 3_600_000, 3_600_000,
    ]);
    expect(Date.parse(steps[2]?.to ?? "")).toBe(minute + MINUTE);
    expect(steps[0]?.versions).toEqual({
      "1": { calls: 2, errors: 0, timeouts: 0, p95Ms: expect.any(Number) },
      "2": { calls: 3, errors: 3, timeouts: 0, p95Ms: expect.any(Number) },
    });
    expect(steps[1]?.versions).toEqual({
      "1": { calls: 0, errors: 0, timeouts: 0, p95Ms: null },
      "2": { calls: 0, errors: 0, timeouts: 0, p95Ms: null },
    });
    expect(steps[2]?.versions["1"]).toMatchObject({ calls: 4, errors: 1, timeouts: 1 });
    // Four calls in the 50–100 ms bucket: the p95 lies within it.
    const p95 = (steps[2]?.versions["1"] as { p95Ms: number } | undefined)?.p95Ms;
    expect(p95).toBeGreaterThan(CALL_LATENCY_BOUNDS_MS[0] as number);
    expect(p95).toBeLessThanOrEqual(CALL_LATENCY_BOUNDS_MS[1] as number);
  });

  it("defaults to 24 one-hour steps", async () => {
    server = await testServer({
      routes: [modelUsageRoutes],
      definitions: [mockModel("writer", { "1": "response: 1" })],
    });
    const response = await server.request("GET", "/v1/models/writer/usage");
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ window: "24h", stepMs: 3_600_000 });
    expect(response.json.buckets).toHaveLength(24);
  });

  it("refuses a window outside 10m–24h or a step count outside 1–96 with 400, and an unknown model with 404", async () => {
    server = await testServer({
      routes: [modelUsageRoutes],
      definitions: [mockModel("writer", { "1": "response: 1" })],
    });
    const short = await server.request("GET", "/v1/models/writer/usage?window=5m");
    expect(short.status).toBe(400);
    expect(short.json.detail).toBe('window must be a duration from 10m to 24h, not "5m"');
    expect((await server.request("GET", "/v1/models/writer/usage?window=2d")).status).toBe(400);
    expect((await server.request("GET", "/v1/models/writer/usage?buckets=0")).status).toBe(400);
    expect((await server.request("GET", "/v1/models/writer/usage?buckets=97")).status).toBe(400);
    const unknown = await server.request("GET", "/v1/models/nobody/usage");
    expect(unknown.status).toBe(404);
    expect(unknown.json.detail).toBe('no model "nobody" is registered');
  });
});
