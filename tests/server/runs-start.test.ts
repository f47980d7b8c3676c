import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateDefinitions } from "../../compiler/index.ts";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import { READER_KEY, type TestServer, testServer, WRITER_KEY } from "./harness.ts";

// POST /v1/workflows/{name}/runs and GET /v1/runs/{id} over HTTP, on a real
// server and engine: what a run looks like, ?wait, Idempotency-Key, version
// pinning, and every way a request is refused.

const GREET = workflow(
  "greet",
  `    draft: { type: model, model: writer, input: { prompt: "{{ inputs.name }}" } }
    shout: { type: transform, expr: "$uppercase(nodes.draft.output.text)", needs: [draft] }
`,
  "  inputs: { type: object, required: [name], properties: { name: { type: string } } }\n",
);
const SLOW = workflow("slow", `    wait: { type: model, model: sleepy }\n`);
const DEFINITIONS = [
  GREET,
  SLOW,
  mockModel("writer", { "1": "response: { text: \"{{ 'hi ' & input.prompt }}\" }" }),
  mockModel("sleepy", { "1": "response: { ok: true }, latency: 400ms" }),
];

let server: TestServer;
beforeAll(async () => {
  server = await testServer({ definitions: DEFINITIONS, routes: [runRoutes] });
});
afterAll(async () => {
  await server.close();
});

function start(
  name: string,
  body: unknown = {},
  options: { query?: string; key?: string; headers?: Record<string, string> } = {},
) {
  return server.request("POST", `/v1/workflows/${name}/runs${options.query ?? ""}`, {
    body,
    ...(options.key ? { key: options.key } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });
}

function expectProblem(
  response: { status: number; headers: Headers; json: unknown },
  status: number,
  type: string,
) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(response.json).toMatchObject({
    type: `https://schemas.propertyflow.ai/pflow/problems/${type}`,
    status,
    title: expect.any(String),
    detail: expect.any(String),
  });
}

describe("starting a run", () => {
  it("answers 202 with the run's id, status and pinned workflow version; GET shows it finished", async () => {
    const started = await start("greet", { input: { name: "ada" } }, { key: WRITER_KEY });
    expect(started.status).toBe(202);
    expect(started.headers.get("content-type")).toMatch(/^application\/json/);
    expect(started.json).toEqual({
      id: expect.any(String),
      status: "running",
      workflow: { name: "greet", version: 1 },
    });

    await server.engine.waitForRun(started.json.id, 5_000);
    const got = await server.request("GET", `/v1/runs/${started.json.id}`, { key: READER_KEY });
    expect(got.status).toBe(200);
    expect(got.json).toEqual(await server.engine.runJson(started.json.id));
    expect(got.json).toMatchObject({
      status: "succeeded",
      input: { name: "ada" },
      output: { shout: "HI ADA" },
      error: null,
      nodes: { draft: { status: "succeeded", output: { text: "hi ada" } }, shout: { status: "succeeded" } },
    });
  });

  it("with ?wait=5 answers 200 with the finished run", async () => {
    const response = await start("greet", { input: { name: "bo" } }, { query: "?wait=5" });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      status: "succeeded",
      output: { shout: "HI BO" },
      finishedAt: expect.any(String),
    });
    expect(Object.keys(response.json.nodes).sort()).toEqual(["draft", "shout"]);
  });

  it("with ?wait=0, or a wait shorter than the run, answers 202", async () => {
    expect((await start("slow", {}, { query: "?wait=0" })).status).toBe(202);
    const short = await start("slow", {}, { query: "?wait=0.05" });
    expect(short.status).toBe(202);
    expect(short.json.status).toBe("running");
  });

  it("takes an empty body as no input", async () => {
    const response = await server.request("POST", "/v1/workflows/slow/runs");
    expect(response.status).toBe(202);
    expect((await server.engine.runJson(response.json.id))?.input).toEqual({});
  });

  it("refuses a wait past 60 s and a wait that is not a number", async () => {
    expectProblem(await start("slow", {}, { query: "?wait=61" }), 400, "bad-request");
    expectProblem(await start("slow", {}, { query: "?wait=soon" }), 400, "bad-request");
  });
});

describe("Idempotency-Key", () => {
  it("answers a repeated key with the same run, and another key with another run", async () => {
    const headers = { "idempotency-key": "order-1001" };
    const first = await start("greet", { input: { name: "cy" } }, { headers });
    const again = await start("greet", { input: { name: "cy" } }, { headers });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.json.id).toBe(first.json.id);
    const other = await start(
      "greet",
      { input: { name: "cy" } },
      { headers: { "idempotency-key": "order-1002" } },
    );
    expect(other.json.id).not.toBe(first.json.id);
  });

  it("starts one run for concurrent requests with the same key", async () => {
    const headers = { "idempotency-key": "burst-7" };
    const before = (await server.engine.services.store.listRuns({ workflow: "slow", limit: 100 })).items
      .length;
    const responses = await Promise.all(Array.from({ length: 8 }, () => start("slow", {}, { headers })));
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(202));
    expect(new Set(responses.map((r) => r.json.id)).size).toBe(1);
    const after = (await server.engine.services.store.listRuns({ workflow: "slow", limit: 100 })).items
      .length;
    expect(after - before).toBe(1);
  });

  it("with ?wait answers a repeated key with the finished run", async () => {
    const headers = { "idempotency-key": "wait-then-again" };
    const first = await start("greet", { input: { name: "di" } }, { headers, query: "?wait=5" });
    const again = await start("greet", { input: { name: "di" } }, { headers, query: "?wait=5" });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
  });

  it("does not spend a key on a refused start: the corrected request runs under it", async () => {
    const headers = { "idempotency-key": "fix-my-input" };
    expectProblem(await start("greet", { input: {} }, { headers }), 400, "invalid-input");
    const fixed = await start("greet", { input: { name: "ed" } }, { headers, query: "?wait=5" });
    expect(fixed.status).toBe(200);
    expect(fixed.json.output).toEqual({ shout: "HI ED" });
  });

  it("starts the run a key names when the request that claimed the key never did", async () => {
    const orphanId = "claimed-by-a-request-that-died";
    await server.engine.services.store.claimIdempotencyKey("orphaned-key", orphanId, Date.now());
    const response = await start(
      "greet",
      { input: { name: "ga" } },
      {
        headers: { "idempotency-key": "orphaned-key" },
        query: "?wait=5",
      },
    );
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ id: orphanId, status: "succeeded", output: { shout: "HI GA" } });
  }, 15_000);

  it("refuses a key that started a run of another workflow (409)", async () => {
    const headers = { "idempotency-key": "shared-key" };
    const first = await start("slow", {}, { headers });
    const other = await start("greet", { input: { name: "fi" } }, { headers });
    expectProblem(other, 409, "conflict");
    expect(other.json.detail).toContain(first.json.id);
  });

  it("refuses an empty key, one longer than 200 characters, and one with unprintable characters", async () => {
    for (const key of ["", "x".repeat(201), "tab\there"]) {
      expectProblem(await start("slow", {}, { headers: { "idempotency-key": key } }), 400, "bad-request");
    }
  });
});

describe("versions", () => {
  it("starts the latest version by default, and a pinned one when asked; an unknown version is 404", async () => {
    const pinned = await testServer({
      definitions: [workflow("versioned", `    v: { type: transform, expr: "'one'" }\n`)],
      routes: [runRoutes],
    });
    try {
      const second = validateDefinitions([
        { path: "v2.yaml", text: workflow("versioned", `    v: { type: transform, expr: "'two'" }\n`) },
      ]);
      await pinned.engine.services.catalog.register(second, Date.now());

      const latest = await pinned.request("POST", "/v1/workflows/versioned/runs?wait=5", { body: {} });
      expect(latest.json).toMatchObject({
        workflow: { name: "versioned", version: 2 },
        output: { v: "two" },
      });
      const first = await pinned.request("POST", "/v1/workflows/versioned/runs?wait=5", {
        body: { version: 1 },
      });
      expect(first.json).toMatchObject({ workflow: { name: "versioned", version: 1 }, output: { v: "one" } });

      const unknown = await pinned.request("POST", "/v1/workflows/versioned/runs", { body: { version: 3 } });
      expectProblem(unknown, 404, "not-found");
      expect(unknown.json.detail).toBe('no version 3 of workflow "versioned" is registered');
    } finally {
      await pinned.close();
    }
  });
});

describe("refused starts", () => {
  it("answers 404 for an unknown workflow, naming it", async () => {
    const response = await start("no-such-flow", {});
    expectProblem(response, 404, "not-found");
    expect(response.json.detail).toBe('no workflow "no-such-flow" is registered');
  });

  it("answers 404 for a misspelt workflow with the did-you-mean the CLI gives", async () => {
    const response = await start("greeet", {});
    expectProblem(response, 404, "not-found");
    expect(response.json.detail).toBe('no workflow "greeet" is registered (did you mean "greet"?)');
  });

  it("answers 400 invalid-input with the violations for an input that breaks the inputs schema", async () => {
    const response = await start("greet", { input: { name: 3 } });
    expectProblem(response, 400, "invalid-input");
    expect(response.json.errors).toEqual([{ path: "/name", message: expect.stringContaining("string") }]);
  });

  it("answers 400 bad-request with errors for a body that breaks the schema", async () => {
    const notObject = await start("greet", { input: 3 });
    expectProblem(notObject, 400, "bad-request");
    expect(notObject.json.errors).toEqual([{ path: "/input", message: "must be object" }]);

    const unknownField = await start("greet", { input: { name: "x" }, inputs: {} });
    expectProblem(unknownField, 400, "bad-request");
    expect(unknownField.json.errors).toEqual([
      { path: "/", message: 'must NOT have the unknown property "inputs"' },
    ]);

    const badVersion = await start("greet", { input: { name: "x" }, version: "1" });
    expectProblem(badVersion, 400, "bad-request");
    expect(badVersion.json.errors).toEqual([{ path: "/version", message: "must be integer" }]);

    expectProblem(await start("greet", [1, 2]), 400, "bad-request");
    expectProblem(await start("greet", { version: 0 }), 400, "bad-request");
  });

  it("answers 400 for malformed JSON", async () => {
    const response = await server.request("POST", "/v1/workflows/greet/runs", { raw: '{"input": {' });
    expectProblem(response, 400, "bad-request");
    // Said once, with where: not Fastify's "Body is not valid JSON but content-type is set to…" after ours.
    expect(response.json.detail).toBe(
      "the body is not valid JSON: Expected property name or '}' in JSON at position 11 (line 1 column 12)",
    );
    const trailing = await server.request("POST", "/v1/workflows/greet/runs", { raw: '{"input": {}} x' });
    expect(trailing.json.detail).toBe(
      "the body is not valid JSON: Unexpected non-whitespace character after JSON at position 14 (line 1 column 15)",
    );
  });

  it("answers 400 for a workflow name that cannot be one", async () => {
    expectProblem(await start("Not_A_Name", {}), 400, "bad-request");
  });

  it("answers 415 for a body that is not JSON", async () => {
    for (const contentType of ["text/plain", "application/yaml"]) {
      const response = await server.request("POST", "/v1/workflows/greet/runs", {
        raw: "input: {}",
        contentType,
      });
      expectProblem(response, 415, "unsupported-media-type");
    }
  });

  it("answers 413 for a body over the limit", async () => {
    const huge = JSON.stringify({ input: { name: "x".repeat(2 * 1024 * 1024) } });
    expectProblem(
      await server.request("POST", "/v1/workflows/greet/runs", { raw: huge }),
      413,
      "payload-too-large",
    );
  });
});

describe("GET /v1/runs/{id}", () => {
  it("answers 404 for an unknown run", async () => {
    const response = await server.request("GET", "/v1/runs/no-such-run");
    expectProblem(response, 404, "not-found");
    expect(response.json.detail).toBe('no run "no-such-run"');
  });
});

describe("authentication", () => {
  it("answers 401 with WWW-Authenticate without a key, and with an unknown key", async () => {
    for (const key of [null, "not-a-key-of-this-server"]) {
      const response = await server.request("POST", "/v1/workflows/greet/runs", { body: {}, key });
      expectProblem(response, 401, "unauthorized");
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
    }
    expectProblem(await server.request("GET", "/v1/runs", { key: null }), 401, "unauthorized");
  });

  it("answers 403 to a key without runs:write on every write route", async () => {
    const started = await start("greet", { input: { name: "gu" } }, { query: "?wait=5" });
    const writes = [
      ["POST", "/v1/workflows/greet/runs"],
      ["POST", `/v1/runs/${started.json.id}/cancel`],
      ["POST", `/v1/runs/${started.json.id}/retry`],
    ] as const;
    for (const [method, path] of writes) {
      expectProblem(await server.request(method, path, { body: {}, key: READER_KEY }), 403, "forbidden");
    }
  });

  it("lets a reader key read", async () => {
    const started = await start("greet", { input: { name: "hu" } });
    expect((await server.request("GET", `/v1/runs/${started.json.id}`, { key: READER_KEY })).status).toBe(
      200,
    );
    expect((await server.request("GET", "/v1/runs", { key: READER_KEY })).status).toBe(200);
  });
});
