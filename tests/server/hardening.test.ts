import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../server/metrics.ts";
import { allRoutes } from "../../server/routes/index.ts";
import { ADMIN_KEY, type TestServer, testServer } from "./harness.ts";

// What a single client could once do to stall or crash the server (issue 15's
// table, a test a row): each now gets a clear 4xx, and the server keeps
// answering everyone else meanwhile.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const YAML = "application/yaml";

const GREETING = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: greeting }
spec:
  inputs: { type: object }
  nodes:
    hello: { type: transform, expr: "'hello'" }
`;

function workflowWithBlob(name: string, blobBytes: number, aliases: number): string {
  const copies = Array.from(
    { length: aliases },
    (_, i) => `    copy${i}: { type: transform, expr: "'hello'", description: *blob }`,
  );
  return `apiVersion: pflow/v1
kind: Workflow
metadata: { name: ${name} }
spec:
  nodes:
    hello:
      type: transform
      description: &blob "${"x".repeat(blobBytes)}"
      expr: "'hello'"
${copies.join("\n")}
`;
}

function nested(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
}

/** A request with any method (fetch refuses TRACE), answering status, Allow and body. */
function rawRequest(url: string, method: string): Promise<{ status: number; allow?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } }, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("a large definition does not block the server", () => {
  it("validates a million keys off the event loop: /healthz answers meanwhile, the file is refused by its node limit", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    const s = server;
    const million = "key: 0\n".repeat(1_000_000);
    let done = false;
    const validation = s.request("POST", "/v1/validate", { raw: million, contentType: YAML }).finally(() => {
      done = true;
    });
    const latencies: number[] = [];
    while (!done) {
      const start = performance.now();
      expect((await s.request("GET", "/healthz", { key: null })).status).toBe(200);
      latencies.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const answer = await validation;
    expect(answer.status).toBe(200);
    expect(answer.json.valid).toBe(false);
    expect(answer.json.files[0].errors[0]).toMatchObject({
      code: "yaml-limits",
      message: "the file holds more than 500,000 nodes (keys, values and items)",
    });
    // Blocked, a health check would wait for the whole validation (seconds).
    latencies.sort((a, b) => a - b);
    expect(latencies.length).toBeGreaterThan(3);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(50);
  }, 60_000);

  it("refuses a registration that would take longer than the time budget, with a yaml-limits finding", async () => {
    server = await testServer({
      routes: allRoutes(createMetrics()),
      server: { validation: { timeoutMs: 1 } },
    });
    const answer = await server.request("PUT", "/v1/workflows/greeting", {
      raw: GREETING,
      contentType: YAML,
    });
    expect(answer.status).toBe(400);
    expect(answer.json.errors[0]).toMatchObject({ code: "yaml-limits" });
    expect(answer.json.errors[0].message).toContain("took longer than 0.001 s, the limit");
    expect((await server.request("GET", "/v1/workflows/greeting")).status).toBe(404);
  });
});

describe("aliases that expand past the limit", () => {
  it("a 7.5 MB string aliased 99 times is a yaml-limits finding, not a 500 from the content hash", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    const text = workflowWithBlob("blob", 7_500_000, 99);
    const validated = await server.request("POST", "/v1/validate", { raw: text, contentType: YAML });
    expect(validated.status).toBe(200);
    expect(validated.json.files[0].errors[0]).toMatchObject({ code: "yaml-limits", line: 1, column: 1 });
    expect(validated.json.files[0].errors[0].message).toMatch(
      /^the document expands to 75\d,\d{3},\d{3} bytes with its aliases; the limit is 16,777,216 bytes \(16 MiB\)$/,
    );
    const put = await server.request("PUT", "/v1/workflows/blob", { raw: text, contentType: YAML });
    expect(put.status).toBe(400);
    expect(put.json.errors[0].code).toBe("yaml-limits");
  }, 60_000);

  it("a 1 MB string aliased 99 times is refused, and nothing is stored", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    const put = await server.request("PUT", "/v1/workflows/blob", {
      raw: workflowWithBlob("blob", 1024 * 1024, 99),
      contentType: YAML,
    });
    expect(put.status).toBe(400);
    expect(put.json).toMatchObject({ status: 400, type: expect.stringContaining("invalid-definition") });
    expect(put.json.errors[0].code).toBe("yaml-limits");
    expect((await server.request("GET", "/v1/workflows/blob")).status).toBe(404);
    // The same string aliased a few times is within the limit.
    const small = await server.request("PUT", "/v1/workflows/blob", {
      raw: workflowWithBlob("blob", 1024 * 1024, 3),
      contentType: YAML,
    });
    expect(small.status).toBe(201);
  });
});

describe("input depth", () => {
  it.each([
    ["arrays", 4000, (inner: unknown) => [inner]],
    ["objects", 1600, (inner: unknown) => ({ a: inner })],
  ])("an input of %s nested %i deep is a 400 naming where the limit was hit", async (_kind, depth, wrap) => {
    server = await testServer({ definitions: [GREETING], routes: allRoutes(createMetrics()) });
    const answer = await server.request("POST", "/v1/workflows/greeting/runs", {
      body: { input: nested(depth, wrap) },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.get("content-type")).toContain("application/problem+json");
    const step = Array.isArray(wrap(1)) ? "0" : "a";
    // The body is level 1, its input level 2: the first value past 64 levels is 63 steps into the input.
    const pointer = `/input${`/${step}`.repeat(63)}`;
    expect(answer.json.detail).toBe(`the body nests deeper than 64 levels, at ${pointer}`);
    expect(answer.json.errors).toEqual([{ path: pointer, message: "nests deeper than 64 levels" }]);
    expect((await server.request("GET", "/v1/runs")).json.items).toEqual([]);
  });

  it("an input at the limit is taken", async () => {
    server = await testServer({ definitions: [GREETING], routes: allRoutes(createMetrics()) });
    const answer = await server.request("POST", "/v1/workflows/greeting/runs?wait=10", {
      body: { input: nested(62, (inner) => ({ a: inner })) },
    });
    expect(answer.status).toBe(200);
    expect(answer.json.status).toBe("succeeded");
  });

  it("a body that is not JSON says where, once", async () => {
    server = await testServer({ definitions: [GREETING], routes: allRoutes(createMetrics()) });
    const answer = await server.request("POST", "/v1/workflows/greeting/runs", { raw: '{"input": {x}' });
    expect(answer.status).toBe(400);
    expect(answer.json.detail).toBe(
      "the body is not valid JSON: Expected property name or '}' in JSON at position 11 (line 1 column 12)",
    );
  });
});

describe("slow clients", () => {
  it("a body trickled a byte at a time is cut off with 408, every such connection", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()), server: { requestTimeoutMs: 1000 } });
    const { port } = new URL(server.url);
    const trickle = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1");
        let answer = "";
        const timer = setInterval(() => socket.write("k"), 200);
        socket.on("data", (chunk) => {
          answer += chunk;
        });
        socket.on("close", () => {
          clearInterval(timer);
          resolve(answer);
        });
        socket.on("error", (error) => {
          clearInterval(timer);
          if (answer) resolve(answer);
          else reject(error);
        });
        socket.write(
          "POST /v1/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/yaml\r\n" +
            `Authorization: Bearer ${ADMIN_KEY}\r\nContent-Length: 1000000\r\n\r\n`,
        );
      });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 20 }, trickle));
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // The timeout, plus at most one check interval (the timeout itself here).
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("methods", () => {
  it.each([
    ["TRACE", "/healthz", "GET, HEAD"],
    ["QUERY", "/v1/runs/0", "GET, HEAD"],
    ["DELETE", "/v1/workflows/greeting", "GET, HEAD, PUT"],
  ])("%s %s is a 405 with Allow: %s", async (method, path, allow) => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    const answer = await rawRequest(`${server.url}${path}`, method);
    expect(answer.status).toBe(405);
    expect(answer.allow).toBe(allow);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 405, detail: expect.stringContaining(method) });
  });

  it("a path the API does not have is still a 404", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    expect((await rawRequest(`${server.url}/v1/nothing`, "TRACE")).status).toBe(404);
  });
});

describe("the OpenAPI document tells the truth", () => {
  type Operation = { responses: Record<string, unknown>; requestBody?: unknown; security?: unknown[] };
  const operationsOf = (document: { paths: Record<string, Record<string, Operation>> }) =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        route: `${method.toUpperCase()} ${path}`,
        operation,
      })),
    );

  it("declares on every route the statuses the framework answers for it", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    const document = (await server.request("GET", "/openapi.json")).json;
    const missing: string[] = [];
    for (const { route, operation } of operationsOf(document)) {
      const statuses = new Set(Object.keys(operation.responses));
      const wanted = ["500"];
      if (operation.requestBody !== undefined) wanted.push("400", "413", "415");
      if (operation.security === undefined) wanted.push("401", "403", "429");
      for (const status of wanted) if (!statuses.has(status)) missing.push(`${route} ${status}`);
    }
    expect(missing).toEqual([]);
    // The cases found by hand.
    const responses = (path: string, method: string) => Object.keys(document.paths[path][method].responses);
    expect(responses("/v1/models/{name}/history", "get")).toContain("400");
    expect(responses("/v1/dead-letters/{id}/replay", "post")).toContain("400");
    expect(responses("/v1/runs/{id}/cancel", "post")).toEqual(expect.arrayContaining(["413", "415"]));
  });

  it("asks for a key only where the server has keys", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    expect((await server.request("GET", "/openapi.json")).json.security).toEqual([{ apiKey: [] }]);
    await server.close();
    server = await testServer({ routes: allRoutes(createMetrics()), keys: "" });
    expect((await server.request("GET", "/openapi.json", { key: null })).json.security).toEqual([]);
  });
});

describe("the event stream's schema", () => {
  it("describes each event: its name, whether it has an id, and the schema of its data", async () => {
    server = await testServer({ routes: allRoutes(createMetrics()) });
    const document = (await server.request("GET", "/openapi.json")).json;
    const stream = document.paths["/v1/runs/{id}/events"].get.responses["200"].content["text/event-stream"];
    const name = String(stream.schema.$ref).split("/").pop() as string;
    const frame = document.components.schemas.runs.$defs?.[name] ?? document.components.schemas[name];
    expect(frame["x-events"]).toMatchObject({
      "run.succeeded": "historyEvent",
      "attempt.failed": "historyEvent",
      "node.delta": "nodeDelta",
    });
    const [state, delta] = frame.oneOf;
    expect(state.required).toEqual(["event", "id", "data"]);
    expect(state.properties.data.contentSchema.$ref).toMatch(/historyEvent$/);
    expect(delta.properties.event).toMatchObject({ enum: ["node.delta"] });
    expect(delta.not).toEqual({ required: ["id"] });
  });
});
