import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { CompiledModel } from "../../compiler/index.ts";
import { modelChanges } from "../../server/model-history.ts";
import { modelRoutes } from "../../server/routes/models.ts";
import { ADMIN_KEY, DEFINER_KEY, type TestServer, testServer } from "./harness.ts";

// The audit history of a model: every version of its document, who registered
// it, when, and what changed.

const WRITER = `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: mock, response: one }
    "2": { provider: mock, response: two }
  aliases:
    production: "1"
`;

const keyId = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 12);

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("GET /v1/models/{name}/history", () => {
  it("lists alias moves and stage changes, newest first, with who made them", async () => {
    server = await testServer({ routes: [modelRoutes] });
    const put = await server.request("PUT", "/v1/models/writer", {
      raw: WRITER,
      contentType: "application/yaml",
      key: DEFINER_KEY,
    });
    expect(put.status).toBe(201);
    const promote = await server.request("PUT", "/v1/models/writer/aliases/production", {
      body: {
        version: "2",
        canary: { version: "1", percent: 10 },
        reason: "2 passed the offline evaluation",
      },
      key: ADMIN_KEY,
    });
    expect(promote.status).toBe(200);
    await server.request("PUT", "/v1/models/writer/aliases/production", {
      body: { version: "2", canary: null },
    });
    const retired = WRITER.replace(
      '"1": { provider: mock, response: one }',
      '"1": { provider: mock, response: one, stage: retired }',
    ).replace('production: "1"', 'production: "2"');
    await server.request("PUT", "/v1/models/writer", {
      raw: retired,
      contentType: "application/yaml",
      key: DEFINER_KEY,
    });

    const history = await server.request("GET", "/v1/models/writer/history");
    expect(history.status).toBe(200);
    expect(
      history.json.items.map(
        (item: { version: number; actor: string; reason: string | null; changes: string[] }) => [
          item.version,
          item.actor,
          item.reason,
          item.changes,
        ],
      ),
    ).toEqual([
      [4, keyId(DEFINER_KEY), null, ["version 1: active → retired"]],
      [3, keyId(ADMIN_KEY), null, ["alias production: canary 1 cleared"]],
      [
        2,
        keyId(ADMIN_KEY),
        "2 passed the offline evaluation",
        ["alias production: 1 → 2", "alias production: canary 1 at 10%"],
      ],
      [1, keyId(DEFINER_KEY), null, ["registered"]],
    ]);
  });

  it("is a 404 for a model that is not registered", async () => {
    server = await testServer({ routes: [modelRoutes] });
    expect((await server.request("GET", "/v1/models/nobody/history")).status).toBe(404);
  });
});

describe("modelChanges", () => {
  const model = (aliases: CompiledModel["aliases"], versions: string[] = ["1", "2"]) =>
    ({
      versions: Object.fromEntries(versions.map((v) => [v, { provider: "mock" }])),
      aliases,
    }) as unknown as CompiledModel;

  it("names added and removed versions and aliases, and canary changes", () => {
    const before = model({
      production: { version: "1", canary: { version: "2", percent: 5 } },
      old: { version: "1", canary: null },
    });
    const after = model(
      {
        production: { version: "1", canary: { version: "3", percent: 20 } },
        fresh: { version: "2", canary: null },
      },
      ["1", "3"],
    );
    expect(modelChanges(before, after)).toEqual([
      "version 3 added",
      "version 2 removed",
      "alias production: canary 2 at 5% → 3 at 20%",
      "alias fresh added → 2",
      "alias old removed",
    ]);
    expect(modelChanges(after, after)).toEqual(["no change to versions or aliases"]);
  });

  it("names a canary's automatic rollback when it is set or changed", () => {
    const policy = { maxErrorRateDelta: 0.05, maxP95Ratio: 1.5, minCalls: 200 };
    const none = model({ production: { version: "1", canary: null } });
    const watched = model({
      production: { version: "1", canary: { version: "2", percent: 10, autoRollback: policy } },
    });
    const latencyOnly = model({
      production: {
        version: "1",
        canary: { version: "2", percent: 10, autoRollback: { ...policy, maxErrorRateDelta: null } },
      },
    });
    const unwatched = model({ production: { version: "1", canary: { version: "2", percent: 10 } } });
    expect(modelChanges(none, watched)).toEqual([
      "alias production: canary 2 at 10% (rolled back automatically past error rate +5 points or p95 ×1.5, after 200 calls)",
    ]);
    expect(modelChanges(watched, latencyOnly)).toEqual([
      "alias production: canary 2 (rolled back automatically past p95 ×1.5, after 200 calls)",
    ]);
    expect(modelChanges(watched, unwatched)).toEqual([
      "alias production: canary 2 without automatic rollback",
    ]);
    expect(modelChanges(watched, none)).toEqual(["alias production: canary 2 cleared"]);
  });
});
