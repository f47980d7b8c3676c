import { afterEach, describe, expect, it } from "vitest";
import { modelRoutes } from "../../server/routes/models.ts";
import { DEFINER_KEY, READER_KEY, type TestServer, testServer } from "./harness.ts";

// The model registry and alias moves over HTTP, against a real server on the
// embedded adapters; runs are started through the engine to see what they pin.

const YAML = "application/yaml";

function writer(options: { latency?: string; production?: string } = {}) {
  return `apiVersion: pflow/v1
kind: Model
metadata:
  name: writer
  description: Writes listing copy
spec:
  versions:
    "1": { provider: mock, latency: ${options.latency ?? "0ms"}, response: { text: one } }
    "2": { provider: mock, response: { text: two } }
    "3": { provider: mock, response: { text: three } }
  aliases:
    # the version in service
    production: "${options.production ?? "1"}"
`;
}

const LISTING = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: listing }
spec:
  nodes:
    draft: { type: model, model: writer@production, input: { q: 1 } }
`;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(definitions: string[] = [writer(), LISTING]): Promise<TestServer> {
  server = await testServer({ definitions, routes: [modelRoutes] });
  return server;
}

function moveAlias(s: TestServer, body: unknown, alias = "production", key?: string | null) {
  return s.request("PUT", `/v1/models/writer/aliases/${alias}`, {
    body,
    ...(key === undefined ? {} : { key }),
  });
}

/** The version `writer@production` pins for a run started now. */
async function pinnedByNewRun(s: TestServer): Promise<string | undefined> {
  const run = await s.engine.startRun({ workflow: "listing", input: {} });
  return run.models["writer@production"];
}

describe("GET /v1/models", () => {
  it("lists each model's latest document", async () => {
    const s = await start();
    const response = await s.request("GET", "/v1/models", { key: READER_KEY });
    expect(response.status).toBe(200);
    expect(response.json.items).toEqual([
      {
        name: "writer",
        version: 1,
        description: "Writes listing copy",
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        versions: ["1", "2", "3"],
        defaultTarget: { alias: "production" },
      },
    ]);
  });
});

describe("GET /v1/models/{name}", () => {
  it("answers with the versions, aliases, default target, YAML and history", async () => {
    const s = await start();
    const response = await s.request("GET", "/v1/models/writer", { key: READER_KEY });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      name: "writer",
      description: "Writes listing copy",
      latest: 1,
      history: [{ version: 1, hash: expect.any(String), createdAt: expect.any(String) }],
      versions: [
        { version: "1", provider: "mock" },
        { version: "2", provider: "mock" },
        { version: "3", provider: "mock" },
      ],
      aliases: { production: { version: "1", canary: null } },
      defaultTarget: { alias: "production" },
      definition: expect.stringContaining("# the version in service"),
    });
  });

  it("404s for an unknown model", async () => {
    const s = await start();
    const response = await s.request("GET", "/v1/models/missing");
    expect(response.status).toBe(404);
    expect(response.json.detail).toBe('no model "missing" is registered');
  });
});

describe("PUT /v1/models/{name}", () => {
  function put(s: TestServer, name: string, text: string, key?: string) {
    return s.request("PUT", `/v1/models/${name}`, {
      raw: text,
      contentType: YAML,
      ...(key === undefined ? {} : { key }),
    });
  }

  it("registers a version (201), not again for the same content (200)", async () => {
    const s = await start();
    const changed = await put(s, "writer", writer({ production: "2" }));
    expect(changed.status).toBe(201);
    expect(changed.json).toEqual({ name: "writer", version: 2, created: true });
    const same = await put(s, "writer", writer({ production: "2" }));
    expect(same.status).toBe(200);
    expect(same.json).toEqual({ name: "writer", version: 2, created: false });
    expect(await pinnedByNewRun(s)).toBe("writer@2");

    const other = await put(s, "other", writer().replace("name: writer", "name: other"));
    expect(other.status).toBe(201);
    expect(other.json).toEqual({ name: "other", version: 1, created: true });
  });

  it("refuses a name mismatch, a workflow, invalid models, JSON, and keys without definitions:write", async () => {
    const s = await start();
    expect((await put(s, "other", writer())).json.detail).toBe(
      'metadata.name is "writer" but the path names "other"; they must be the same',
    );
    expect((await put(s, "listing", LISTING)).json.detail).toBe(
      "the body holds a Workflow, not a Model; register it with PUT /v1/workflows/{name}",
    );
    const invalid = await put(s, "writer", writer({ production: "9" }));
    expect(invalid.status).toBe(400);
    expect(invalid.json.errors).toEqual([
      expect.objectContaining({ code: "unknown-model", line: 13, pointer: "/spec/aliases/production" }),
    ]);
    expect((await s.request("PUT", "/v1/models/writer", { body: {} })).status).toBe(415);
    expect((await put(s, "writer", writer({ production: "2" }), READER_KEY)).status).toBe(403);
    expect((await put(s, "writer", writer({ production: "2" }), DEFINER_KEY)).status).toBe(201);
  });
});

describe("PUT /v1/models/{name}/aliases/{alias}", () => {
  it("promotes: new runs pin the new version, a run in flight keeps the one it pinned", async () => {
    const s = await start([writer({ latency: "300ms" }), LISTING]);
    const inFlight = await s.engine.startRun({ workflow: "listing", input: {} });

    const response = await moveAlias(s, { version: "2" }, "production", DEFINER_KEY);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      name: "writer",
      version: 2,
      aliases: { production: { version: "2", canary: null } },
    });

    const after = await s.engine.startRun({ workflow: "listing", input: {} });
    expect(inFlight.models).toEqual({ "writer@production": "writer@1" });
    expect(after.models).toEqual({ "writer@production": "writer@2" });
    await s.engine.waitForRun(inFlight.id, 10_000);
    await s.engine.waitForRun(after.id, 10_000);
    expect((await s.engine.runJson(inFlight.id))?.nodes.draft?.output).toEqual({ text: "one" });
    expect((await s.engine.runJson(after.id))?.nodes.draft?.output).toEqual({ text: "two" });
  });

  it("records the move in the Model document, keeping its comments", async () => {
    const s = await start();
    await moveAlias(s, { version: "2" });
    const model = (await s.request("GET", "/v1/models/writer")).json;
    expect(model.latest).toBe(2);
    expect(model.history.map((entry: { version: number }) => entry.version)).toEqual([1, 2]);
    expect(model.definition).toContain('# the version in service\n    production: "2"');
    expect(model.definition).toContain('"3": { provider: mock, response: { text: three } }');
  });

  it("rolls back, and pointing where it already points makes no new version", async () => {
    const s = await start();
    await moveAlias(s, { version: "3" });
    const back = await moveAlias(s, { version: "1" });
    expect(back.json).toMatchObject({ version: 3, aliases: { production: { version: "1" } } });
    expect(await pinnedByNewRun(s)).toBe("writer@1");
    const again = await moveAlias(s, { version: "1" });
    expect(again.status).toBe(200);
    expect(again.json.version).toBe(3);
  });

  it("sets and clears a canary", async () => {
    const s = await start();
    const set = await moveAlias(s, { version: "1", canary: { version: "3", percent: 100 } });
    expect(set.status).toBe(200);
    expect(set.json.aliases.production).toEqual({
      version: "1",
      canary: { version: "3", percent: 100, autoRollback: null },
    });
    // Every run goes to a 100% canary.
    expect(await pinnedByNewRun(s)).toBe("writer@3");

    const cleared = await moveAlias(s, { version: "1", canary: null });
    expect(cleared.json.aliases.production).toEqual({ version: "1", canary: null });
    expect(await pinnedByNewRun(s)).toBe("writer@1");

    // The alias is replaced as a whole: no canary in the body means none.
    await moveAlias(s, { version: "1", canary: { version: "2", percent: 10 } });
    const omitted = await moveAlias(s, { version: "2" });
    expect(omitted.json.aliases.production).toEqual({ version: "2", canary: null });
  });

  it("sets a canary with automatic rollback, defaults applied, written into the document", async () => {
    const s = await start();
    const set = await moveAlias(s, {
      version: "1",
      canary: { version: "2", percent: 10, autoRollback: { maxErrorRateDelta: 0.05 } },
    });
    expect(set.status).toBe(200);
    expect(set.json.aliases.production.canary).toEqual({
      version: "2",
      percent: 10,
      autoRollback: { maxErrorRateDelta: 0.05, maxP95Ratio: null, minCalls: 100 },
    });
    const model = await s.request("GET", "/v1/models/writer");
    expect(model.json.aliases.production.canary.autoRollback).toMatchObject({ maxErrorRateDelta: 0.05 });
    expect(model.json.definition).toContain("autoRollback:");
    expect(model.json.definition).toContain("maxErrorRateDelta: 0.05");
  });

  it("400s for an autoRollback out of range, unknown, or without a threshold", async () => {
    const s = await start();
    const canary = (autoRollback: unknown) => ({
      version: "1",
      canary: { version: "2", percent: 10, autoRollback },
    });
    for (const policy of [
      { maxErrorRateDelta: 1 },
      { maxP95Ratio: 0.5 },
      { maxP95Ratio: 2, minCalls: 0 },
      { maxP95Ratio: 2, minCals: 10 },
    ]) {
      const response = await moveAlias(s, canary(policy));
      expect(response.status, JSON.stringify(policy)).toBe(400);
      expect(response.json.type).toMatch(/bad-request$/);
    }
    const none = await moveAlias(s, canary({ minCalls: 10 }));
    expect(none.status).toBe(400);
    expect(none.json.detail).toContain(
      'autoRollback of the canary of alias "production" sets no threshold: give maxErrorRateDelta, maxP95Ratio or both',
    );
    expect((await s.request("GET", "/v1/models/writer")).json.latest).toBe(1);
  });

  it("409s when the model changed between reading it and registering the move, and registers nothing", async () => {
    const s = await start();
    const { store } = s.engine.services;
    // Another move lands while this one is computed: the store hands back the
    // version this one read, as a slower process would have read it.
    const read = await store.getDefinition("Model", "writer");
    const original = store.getDefinition.bind(store);
    let raced = false;
    store.getDefinition = async (kind, name, version) => {
      if (!raced && kind === "Model" && version === undefined) {
        raced = true;
        const other = await moveAlias(s, { version: "3" });
        expect(other.status).toBe(200);
        return read;
      }
      return original(kind, name, version);
    };
    try {
      const response = await moveAlias(s, { version: "2" });
      expect(response.status).toBe(409);
      expect(response.json.type).toMatch(/conflict$/);
      expect(response.json.detail).toMatch(
        /^model "writer" changed while this change was made: it was computed from version 1, and version 2 was registered meanwhile by \w+; read it again and retry$/,
      );
    } finally {
      store.getDefinition = original;
    }
    // The other move stands; this one was not applied over it.
    const model = await s.request("GET", "/v1/models/writer");
    expect(model.json).toMatchObject({ latest: 2, aliases: { production: { version: "3" } } });
    // Read again, and retried: it lands.
    expect((await moveAlias(s, { version: "2" })).json).toMatchObject({ version: 3 });
  });

  it("creates an alias the model does not have yet", async () => {
    const s = await start();
    const response = await moveAlias(s, { version: "2" }, "stable");
    expect(response.json.aliases).toEqual({
      production: { version: "1", canary: null },
      stable: { version: "2", canary: null },
    });
  });

  it("404s for an unknown model", async () => {
    const s = await start();
    const response = await s.request("PUT", "/v1/models/missing/aliases/production", {
      body: { version: "1" },
    });
    expect(response.status).toBe(404);
    expect(response.json.detail).toBe('no model "missing" is registered');
  });

  it("400s for a version or canary version the model does not have, and registers nothing", async () => {
    const s = await start();
    const version = await moveAlias(s, { version: "9" });
    expect(version.status).toBe(400);
    expect(version.json.detail).toBe(
      'the alias cannot point to version "9": model "writer" has versions 1, 2, 3',
    );
    const canary = await moveAlias(s, { version: "1", canary: { version: "7", percent: 5 } });
    expect(canary.status).toBe(400);
    expect(canary.json.detail).toBe(
      'the canary cannot point to version "7": model "writer" has versions 1, 2, 3',
    );
    expect((await s.request("GET", "/v1/models/writer")).json.latest).toBe(1);
  });

  it("400s for a canary percent outside (0, 100] and for unknown fields", async () => {
    const s = await start();
    for (const percent of [0, 101, -5]) {
      const response = await moveAlias(s, { version: "1", canary: { version: "2", percent } });
      expect(response.status, String(percent)).toBe(400);
      expect(response.json.type).toMatch(/bad-request$/);
    }
    expect((await moveAlias(s, { version: "1", weight: 3 })).status).toBe(400);
    expect((await moveAlias(s, { version: "1" }, "Not-An-Alias")).status).toBe(400);
  });

  it("needs definitions:write", async () => {
    const s = await start();
    expect((await moveAlias(s, { version: "2" }, "production", READER_KEY)).status).toBe(403);
    expect((await moveAlias(s, { version: "2" }, "production", null)).status).toBe(401);
  });
});
