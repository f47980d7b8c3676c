import { afterEach, describe, expect, it } from "vitest";
import { definitionRoutes } from "../../server/routes/definitions.ts";
import { DEFINER_KEY, READER_KEY, type TestServer, testServer } from "./harness.ts";

// The workflow registry and POST /v1/validate over HTTP, against a real server
// on the embedded adapters.

const YAML = "application/yaml";

const WRITER = `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: mock, response: { text: "one" } }
  aliases:
    production: "1"
`;

function workflow(name: string, options: { model?: string; description?: string; extra?: string } = {}) {
  return `apiVersion: pflow/v1
kind: Workflow
metadata:
  name: ${name}
  description: ${options.description ?? "Drafts a text"}
  labels: { team: listings }
spec:
  nodes:
    draft:
      type: model
      model: ${options.model ?? "writer@production"}
      input: { prompt: "{{ inputs.prompt }}" }
${options.extra ?? ""}`;
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(definitions: string[] = [WRITER, workflow("listing")]): Promise<TestServer> {
  server = await testServer({ definitions, routes: [definitionRoutes] });
  return server;
}

function put(s: TestServer, name: string, text: string, key?: string) {
  return s.request("PUT", `/v1/workflows/${name}`, {
    raw: text,
    contentType: YAML,
    ...(key === undefined ? {} : { key }),
  });
}

describe("GET /v1/workflows", () => {
  it("lists the latest version of each registered workflow", async () => {
    const s = await start([WRITER, workflow("listing"), workflow("another", { description: "Other" })]);
    await put(s, "listing", workflow("listing", { description: "Drafts a better text" }));

    const response = await s.request("GET", "/v1/workflows", { key: READER_KEY });
    expect(response.status).toBe(200);
    expect(response.json.items).toEqual([
      {
        name: "another",
        version: 1,
        description: "Other",
        labels: { team: "listings" },
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
      expect.objectContaining({ name: "listing", version: 2, description: "Drafts a better text" }),
    ]);
  });
});

describe("GET /v1/workflows/{name}", () => {
  it("answers with every version and the YAML of the latest", async () => {
    const s = await start();
    await put(s, "listing", workflow("listing", { description: "Second" }));

    const response = await s.request("GET", "/v1/workflows/listing", { key: READER_KEY });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      name: "listing",
      description: "Second",
      labels: { team: "listings" },
      latest: 2,
      versions: [{ version: 1 }, { version: 2 }],
    });
    expect(response.json.versions[0].hash).not.toBe(response.json.versions[1].hash);
    expect(response.json.definition).toContain("description: Second");
    expect(response.json.plan).toBeUndefined();
  });

  it("includes the execution plan when asked", async () => {
    const s = await start();
    const response = await s.request("GET", "/v1/workflows/listing?plan=true");
    expect(response.status).toBe(200);
    expect(response.json.plan).toMatchObject({
      workflow: "listing",
      order: ["draft"],
      models: ["writer@production"],
      nodes: { draft: { type: "model", model: "writer@production", dependencies: [] } },
    });
  });

  it("404s for an unknown workflow, as a problem", async () => {
    const s = await start();
    const response = await s.request("GET", "/v1/workflows/unheard-of");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(response.json).toMatchObject({ status: 404, detail: 'no workflow "unheard-of" is registered' });
    const misspelt = await s.request("GET", "/v1/workflows/listin");
    expect(misspelt.json).toMatchObject({
      status: 404,
      detail: 'no workflow "listin" is registered (did you mean "listing"?)',
    });
  });
});

describe("PUT /v1/workflows/{name}", () => {
  it("registers a new workflow (201), the same content again is no new version (200), a change is", async () => {
    const s = await start();
    const first = await put(s, "fresh", workflow("fresh"));
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ name: "fresh", version: 1, created: true });

    const again = await put(s, "fresh", workflow("fresh"));
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ name: "fresh", version: 1, created: false });

    const changed = await put(s, "fresh", workflow("fresh", { description: "Changed" }));
    expect(changed.status).toBe(201);
    expect(changed.json).toEqual({ name: "fresh", version: 2, created: true });
  });

  it("replaces a registered workflow without calling it a duplicate of itself", async () => {
    const s = await start();
    const response = await put(s, "listing", workflow("listing", { description: "New" }));
    expect(response.status).toBe(201);
    expect(response.json.version).toBe(2);
  });

  it("resolves model and sub-workflow references against the registry", async () => {
    const s = await start();
    const caller = workflow("caller", {
      extra: `    child:\n      type: workflow\n      workflow: listing\n      input: { prompt: "x" }\n`,
    });
    const response = await put(s, "caller", caller);
    expect(response.status, response.text).toBe(201);
  });

  it("refuses a sub-workflow call that closes a cycle through the registry", async () => {
    const s = await start();
    const call = (target: string) =>
      `    child:\n      type: workflow\n      workflow: ${target}\n      input: { prompt: "x" }\n`;
    expect((await put(s, "parent", workflow("parent", { extra: call("listing") }))).status).toBe(201);
    const response = await put(s, "listing", workflow("listing", { extra: call("parent") }));
    expect(response.status).toBe(400);
    expect(response.json.errors).toEqual([
      expect.objectContaining({
        code: "cycle",
        message:
          "workflow cycle: listing -> parent -> listing (each workflow runs the next as a sub-workflow)",
      }),
    ]);
  });

  it("a run started before a new version keeps its version; one started after gets the new one", async () => {
    const s = await start();
    const before = await s.engine.startRun({ workflow: "listing", input: { prompt: "a" } });
    await put(s, "listing", workflow("listing", { description: "v2" }));
    const after = await s.engine.startRun({ workflow: "listing", input: { prompt: "b" } });
    expect(before.workflow).toEqual({ name: "listing", version: 1 });
    expect(after.workflow).toEqual({ name: "listing", version: 2 });
  });

  it("refuses a document whose name is not the path's", async () => {
    const s = await start();
    const response = await put(s, "other", workflow("listing"));
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({
      type: expect.stringMatching(/invalid-definition$/),
      detail: 'metadata.name is "listing" but the path names "other"; they must be the same',
    });
  });

  it("refuses a body of two documents", async () => {
    const s = await start();
    const response = await put(s, "listing", `${workflow("listing")}---\n${workflow("second")}`);
    expect(response.status).toBe(400);
    expect(response.json.detail).toBe(
      'the body must hold exactly one Workflow document; it holds 2 (Workflow "listing", Workflow "second")',
    );
  });

  it("refuses a Model sent as a workflow", async () => {
    const s = await start();
    const response = await put(s, "writer", WRITER);
    expect(response.status).toBe(400);
    expect(response.json.detail).toBe(
      "the body holds a Model, not a Workflow; register it with PUT /v1/models/{name}",
    );
  });

  it("refuses a WorkflowTest: tests run where the definitions are committed, they are not registered", async () => {
    const s = await start([WRITER, workflow("listing")]);
    const test =
      "apiVersion: pflow/v1\nkind: WorkflowTest\nmetadata: { name: listing }\nspec:\n  workflow: listing\n  cases: [{ name: one }]\n";
    const response = await put(s, "listing", test);
    expect(response.status).toBe(400);
    expect(response.json.detail).toBe(
      "the body holds a WorkflowTest: tests are not registered, they run where the definitions are committed (pflow test)",
    );
  });

  it("refuses YAML that does not parse, with the finding's line and column", async () => {
    const s = await start();
    const response = await put(
      s,
      "broken",
      "apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: broken ]\n",
    );
    expect(response.status).toBe(400);
    expect(response.json.type).toMatch(/invalid-definition$/);
    expect(response.json.errors).toEqual([
      {
        line: 3,
        column: 26,
        code: "yaml-syntax",
        message: "Flow map in block collection must be sufficiently indented and end with a }",
        pointer: "",
        document: 0,
      },
    ]);
    expect(response.json.detail).toBe(
      "the workflow is not valid: 1 error; the first, at line 3 column 26: Flow map in block collection must be sufficiently indented and end with a }",
    );
  });

  it("refuses a reference to a model the registry does not have", async () => {
    const s = await start();
    const response = await put(s, "listing", workflow("listing", { model: "writter@production" }));
    expect(response.status).toBe(400);
    expect(response.json.errors).toEqual([
      {
        line: 11,
        column: 14,
        code: "unknown-model",
        message: 'model reference "writter@production": no model is named "writter" (did you mean "writer"?)',
        pointer: "/spec/nodes/draft/model",
        document: 0,
      },
    ]);
    // Nothing was registered.
    expect((await s.request("GET", "/v1/workflows/listing")).json.latest).toBe(1);
  });

  it("refuses JSON with 415", async () => {
    const s = await start();
    const response = await s.request("PUT", "/v1/workflows/listing", { body: { kind: "Workflow" } });
    expect(response.status).toBe(415);
    expect(response.json.type).toMatch(/unsupported-media-type$/);
  });

  it("takes the other YAML content types", async () => {
    const s = await start();
    for (const [i, contentType] of ["application/x-yaml", "text/yaml; charset=utf-8"].entries()) {
      const response = await s.request("PUT", `/v1/workflows/typed-${i}`, {
        raw: workflow(`typed-${i}`),
        contentType,
      });
      expect(response.status, contentType).toBe(201);
    }
  });

  it("refuses a body over 8 MiB with 413", async () => {
    const s = await start();
    const huge = `${workflow("listing")}# ${"x".repeat(9 * 1024 * 1024)}\n`;
    const response = await put(s, "listing", huge);
    expect(response.status).toBe(413);
    expect(response.json.type).toMatch(/payload-too-large$/);
  });

  it("needs definitions:write", async () => {
    const s = await start();
    expect((await put(s, "fresh", workflow("fresh"), READER_KEY)).status).toBe(403);
    expect(
      (await s.request("PUT", "/v1/workflows/fresh", { raw: "x", contentType: YAML, key: null })).status,
    ).toBe(401);
    expect((await put(s, "fresh", workflow("fresh"), DEFINER_KEY)).status).toBe(201);
  });

  it("400s for a name that cannot be a workflow's", async () => {
    const s = await start();
    const response = await put(s, "Not_A_Name", workflow("listing"));
    expect(response.status).toBe(400);
    expect(response.json.type).toMatch(/bad-request$/);
  });
});

describe("POST /v1/validate", () => {
  function validate(s: TestServer, text: string) {
    return s.request("POST", "/v1/validate", { raw: text, contentType: YAML, key: READER_KEY });
  }

  it("answers the JSON of pflow validate for a valid file", async () => {
    const s = await start();
    const response = await validate(s, workflow("listing", { description: "Checked" }));
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      valid: true,
      files: [
        {
          path: "request.yaml",
          valid: true,
          documents: [{ kind: "Workflow", name: "listing" }],
          errors: [],
          warnings: [],
        },
      ],
    });
    // Validating registers nothing.
    expect((await s.request("GET", "/v1/workflows/listing")).json.latest).toBe(1);
  });

  it("answers 200 with yaml-syntax and its position for YAML that does not parse", async () => {
    const s = await start();
    const response = await validate(
      s,
      "apiVersion: pflow/v1\nkind: Workflow\nmetadata:\n  name: broken\n    labels: x\n",
    );
    expect(response.status).toBe(200);
    expect(response.json.valid).toBe(false);
    expect(response.json.files[0].errors).toEqual([
      expect.objectContaining({
        code: "yaml-syntax",
        line: 5,
        column: 5,
        message: expect.stringContaining('key "labels" is at column 5, expected column 3'),
      }),
    ]);
  });

  it("resolves references against the registry, and reports only the body's findings", async () => {
    const s = await start();
    const known = await validate(s, workflow("new-one", { model: "writer" }));
    expect(known.json.valid).toBe(true);

    const unknown = await validate(s, workflow("new-one", { model: "reader@production" }));
    expect(unknown.json.valid).toBe(false);
    expect(unknown.json.files).toHaveLength(1);
    expect(unknown.json.files[0].errors).toEqual([
      expect.objectContaining({ code: "unknown-model", pointer: "/spec/nodes/draft/model" }),
    ]);
  });

  it("checks a model in the body against the workflows that use it only as far as the body goes", async () => {
    const s = await start();
    // The body's writer replaces the registered one, so a workflow in the body sees its versions.
    const both = `${WRITER.replace('"1": { provider: mock', '"2": { provider: mock').replace(
      'production: "1"',
      'production: "2"',
    )}---\n${workflow("uses-two", { model: "writer@2" })}`;
    const response = await validate(s, both);
    expect(response.json.valid, JSON.stringify(response.json)).toBe(true);
    expect(response.json.files[0].documents).toEqual([
      { kind: "Model", name: "writer" },
      { kind: "Workflow", name: "uses-two" },
    ]);
  });

  it("reports an empty body as a finding too", async () => {
    const s = await start();
    const response = await validate(s, "");
    expect(response.status).toBe(200);
    expect(response.json.files[0].errors).toEqual([expect.objectContaining({ code: "empty-file" })]);
  });

  it("refuses JSON with 415", async () => {
    const s = await start();
    const response = await s.request("POST", "/v1/validate", { body: {}, key: READER_KEY });
    expect(response.status).toBe(415);
  });
});

describe("OpenAPI", () => {
  it("documents each route with its operation id, summary and tags", async () => {
    const s = await start();
    const { json } = await s.request("GET", "/openapi.json", { key: null });
    const operation = (path: string, method: string) => json.paths[path][method];
    expect(operation("/v1/workflows", "get")).toMatchObject({
      operationId: "listWorkflows",
      tags: ["workflows"],
    });
    expect(operation("/v1/workflows/{name}", "get").operationId).toBe("getWorkflow");
    const putWorkflow = operation("/v1/workflows/{name}", "put");
    expect(putWorkflow.operationId).toBe("putWorkflow");
    expect(Object.keys(putWorkflow.requestBody.content)).toEqual([
      "application/yaml",
      "application/x-yaml",
      "text/yaml",
    ]);
    expect(Object.keys(putWorkflow.responses)).toEqual(
      expect.arrayContaining(["200", "201", "400", "401", "403", "413", "415", "429"]),
    );
    expect(putWorkflow.responses["400"].content["application/problem+json"]).toBeDefined();
    expect(operation("/v1/validate", "post").summary).toBe("Validate definitions");
  });
});
