import { afterEach, describe, expect, it } from "vitest";
import { validateDefinitions } from "../../compiler/index.ts";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import { type TestServer, testServer } from "./harness.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("a run on a retired model version", () => {
  it("is refused with 409, naming the model", async () => {
    server = await testServer({
      routes: [runRoutes],
      definitions: [
        workflow("old", `    m: { type: model, model: "writer@1" }\n`),
        mockModel("writer", { "1": "response: 1" }),
      ],
    });
    const retired = validateDefinitions([
      {
        path: "m.yaml",
        text: mockModel("writer", { "1": "response: 1, stage: retired", "2": "response: 2" }),
      },
    ]);
    await server.engine.services.catalog.register(retired, Date.now());
    const response = await server.request("POST", "/v1/workflows/old/runs", { body: {} });
    expect(response.status).toBe(409);
    expect(response.json.detail).toContain("writer@1, which is retired");
  });
});
