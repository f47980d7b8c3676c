import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRoutes } from "../../server/routes/runs.ts";
import { type TestServer, testServer } from "./harness.ts";

// The runs routes as the OpenAPI document shows them: each operation with its
// replies, problems as application/problem+json, the run shapes as schemas.

let server: TestServer;
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is read as plain JSON
let document: any;

beforeAll(async () => {
  server = await testServer({ routes: [runRoutes] });
  document = (await server.request("GET", "/openapi.json", { key: null })).json;
});
afterAll(async () => {
  await server.close();
});

/** A `$ref` of the document, resolved. */
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is read as plain JSON
function resolve(schema: any): any {
  return schema.$ref ? document.components.schemas[schema.$ref.replace("#/components/schemas/", "")] : schema;
}

const OPERATIONS = [
  ["post", "/v1/workflows/{name}/runs", "startRun", ["200", "202", "400", "404", "409", "413", "415"]],
  ["get", "/v1/runs/{id}", "getRun", ["200", "404"]],
  ["get", "/v1/runs", "listRuns", ["200", "400"]],
  ["post", "/v1/runs/{id}/cancel", "cancelRun", ["202", "404", "409"]],
  ["post", "/v1/runs/{id}/retry", "retryRun", ["202", "404", "409"]],
  ["get", "/v1/runs/{id}/events", "followRun", ["200", "404"]],
] as const;

describe("the runs routes in the OpenAPI document", () => {
  it.each(OPERATIONS)("%s %s is %s with its replies", (method, path, operationId, statuses) => {
    const operation = document.paths[path]?.[method];
    expect(operation).toMatchObject({ operationId, summary: expect.any(String), tags: ["runs"] });
    const replies = Object.keys(operation.responses);
    expect(replies).toEqual(expect.arrayContaining([...statuses, "401", "403", "429", "500"]));
    for (const status of replies.filter((s) => Number(s) >= 400)) {
      const problem = resolve(operation.responses[status].content["application/problem+json"].schema);
      expect(problem.required).toEqual(["type", "title", "status", "detail"]);
    }
  });

  it("describes the start body, the Idempotency-Key header and the run", () => {
    const start = document.paths["/v1/workflows/{name}/runs"].post;
    const body = resolve(start.requestBody.content["application/json"].schema);
    expect(body).toMatchObject({ additionalProperties: false, properties: { input: { type: "object" } } });
    expect(start.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: "header", name: "idempotency-key" })]),
    );
    const run = resolve(start.responses["200"].content["application/json"].schema);
    expect(Object.keys(run.properties)).toEqual(
      expect.arrayContaining(["id", "workflow", "status", "input", "output", "nodes", "models", "usage"]),
    );
  });

  it("says the events route answers text/event-stream, node.delta events included", () => {
    const events = document.paths["/v1/runs/{id}/events"].get;
    expect(Object.keys(events.responses["200"].content)).toEqual(["text/event-stream"]);
    expect(events.description).toContain("`node.delta`");
    const delta = document.components.schemas["runs-nodeDelta"];
    expect(delta.required).toEqual(["runId", "nodeId", "attempts", "offset", "text"]);
  });
});
