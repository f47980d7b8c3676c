import { afterEach, describe, expect, it } from "vitest";
import { runRoutes } from "../../server/routes/runs.ts";
import { type TestServer, testServer } from "./harness.ts";

// Requests the router itself refuses still answer as problems.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("odd URLs", () => {
  it("a run id longer than the schema allows is a 400 problem naming the parameter", async () => {
    server = await testServer({ routes: [runRoutes] });
    const response = await server.request("GET", `/v1/runs/${"0".repeat(300)}`);
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
  });

  it("a path parameter longer than the router takes is still a problem", async () => {
    server = await testServer({ routes: [runRoutes] });
    const response = await server.request("GET", `/v1/runs/${"0".repeat(1500)}`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
  });

  it("a malformed URL is a 400 problem", async () => {
    server = await testServer({ routes: [runRoutes] });
    const response = await server.request("GET", "/v1/runs/%E0%A4%A");
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
  });
});
