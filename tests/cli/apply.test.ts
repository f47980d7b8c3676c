import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../../server/metrics.ts";
import { allRoutes } from "../../server/routes/index.ts";
import { pflow } from "../helpers/cli.ts";
import { yaml } from "../helpers/definitions.ts";
import { ADMIN_KEY, READER_KEY, type TestServer, testServer } from "../server/harness.ts";

// `pflow apply DIR` against a real server: what it registers, what it says,
// and that an invalid DIR registers nothing.

const MODEL = yaml`
  apiVersion: pflow/v1
  kind: Model
  metadata: { name: writer }
  spec:
    versions:
      "1": { provider: mock, response: { text: "one" } }
      "2": { provider: mock, response: { text: "two" } }
    aliases: { production: "1" }
`;
const workflow = (name: string, expr: string, extra = "") => yaml`
  apiVersion: pflow/v1
  kind: Workflow
  metadata: { name: ${name} }
  spec:
    nodes:
      draft: { type: model, model: writer@production, input: { x: 1 } }
      finish: { type: transform, expr: "${expr}" }
${extra}`;

let server: TestServer;
let dir: string;
const saved = { ...process.env };
beforeAll(async () => {
  server = await testServer({
    definitions: [workflow("legacy", "1")].map((text) => `${MODEL}---\n${text}`),
    routes: allRoutes(createMetrics()),
  });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  process.env = { ...saved };
  rmSync(dir, { recursive: true, force: true });
});

function files(entries: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), "pflow-apply-"));
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
  process.env.PFLOW_URL = server.url;
  process.env.PFLOW_API_KEY = ADMIN_KEY;
  return dir;
}

async function versions(name: string): Promise<number[]> {
  const response = await server.request("GET", `/v1/workflows/${name}`);
  return response.status === 404 ? [] : response.json.versions.map((v: { version: number }) => v.version);
}

describe("pflow apply", () => {
  it("registers new and changed definitions, says which, and leaves unchanged ones and the server's others", async () => {
    const d = files({ "writer.yaml": MODEL, "listing.yaml": workflow("listing", "nodes.draft.output.text") });
    const first = await pflow("apply", d);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      [
        "model writer: unchanged (version 1)",
        "workflow listing: version 1 (new)",
        `on the server, not in ${d} (left as they are; pflow apply removes nothing): workflow legacy`,
        "2 definitions: 1 new, 0 changed, 1 unchanged",
        "",
      ].join("\n"),
    );
    const again = await pflow("apply", d);
    expect(again.stdout).toContain("workflow listing: unchanged (version 1)");
    expect(again.stdout).toContain("2 definitions: 0 new, 0 changed, 2 unchanged");

    writeFileSync(join(d, "listing.yaml"), workflow("listing", "$uppercase(nodes.draft.output.text)"));
    const dry = await pflow("apply", d, "--dry-run");
    expect(dry.stdout).toContain("workflow listing: would register a new version");
    expect(dry.stdout).toContain("(dry run: nothing registered)");
    expect(await versions("listing")).toEqual([1]);
    const changed = await pflow("apply", d);
    expect(changed.stdout).toContain("workflow listing: version 2 (changed)");
    expect(await versions("listing")).toEqual([1, 2]);
    expect(await versions("legacy")).toEqual([1]);
  });

  it("registers nothing when any definition is invalid, and prints the findings", async () => {
    const d = files({
      "fine.yaml": workflow("fine", "1"),
      "bad.yaml": workflow("bad", "$contians(nodes.draft.output.text, 'x')"),
    });
    const result = await pflow("apply", d);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error unknown-function");
    expect(result.stderr).toContain(`the definitions in ${d} are not valid: nothing was registered`);
    expect(await versions("fine")).toEqual([]);
  });

  it("resolves references against the server: a model only the server has is fine, a missing one is not", async () => {
    const uses = files({ "uses.yaml": workflow("uses-server-model", "1") });
    expect((await pflow("apply", uses)).code).toBe(0);
    rmSync(uses, { recursive: true, force: true });
    const missing = files({
      "m.yaml": workflow("missing-model", "1").replace("writer@production", "nobody@production"),
    });
    const result = await pflow("apply", missing);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown-model");
  });

  it("--exact refuses, registering nothing, when the server has definitions the directory lacks", async () => {
    const d = files({ "writer.yaml": MODEL, "only.yaml": workflow("only", "1") });
    const result = await pflow("apply", d, "--exact");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /the server has definitions that .* does not \(.*workflow legacy.*\); with --exact nothing was registered/,
    );
    expect(await versions("only")).toEqual([]);
  });

  it("does not register a committed model back over a newer one moved through the API", async () => {
    const moved = await server.request("PUT", "/v1/models/writer/aliases/production", {
      body: { version: "2", reason: "promoted after review" },
    });
    expect(moved.status).toBe(200);
    const d = files({ "writer.yaml": MODEL });
    const result = await pflow("apply", d);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "model writer: not registered: the committed document is version 1, and the server has moved on to version 2",
    );
    const model = await server.request("GET", "/v1/models/writer");
    expect(model.json.latest).toBe(2);
  });

  it("defaults to ./definitions, never the bundled examples: without it, a usage error", async () => {
    const d = files({});
    const cwd = process.cwd();
    delete process.env.PFLOW_DEFINITIONS;
    process.chdir(d);
    try {
      const result = await pflow("apply");
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("definitions: no such file or directory");
    } finally {
      process.chdir(cwd);
    }
  });

  it("needs a key that may read and register: a reader's key is refused, and nothing is registered", async () => {
    const d = files({ "r.yaml": workflow("by-reader", "1") });
    process.env.PFLOW_API_KEY = READER_KEY;
    const result = await pflow("apply", d);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("definitions:write");
    expect(await versions("by-reader")).toEqual([]);
  });
});
