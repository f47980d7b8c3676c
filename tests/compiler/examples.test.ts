import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { collectDefinitionFiles, validateDefinitions } from "../../compiler/index.ts";

describe("examples/", async () => {
  const { files } = await collectDefinitionFiles(["examples"]);
  const set = validateDefinitions(files);

  it("validates with no errors and no warnings", () => {
    expect(set.files.flatMap((f) => [...f.errors, ...f.warnings])).toEqual([]);
    expect(set.valid).toBe(true);
  });

  it("holds at least five workflows, with their models", () => {
    expect(set.workflows.size).toBeGreaterThanOrEqual(5);
  });

  it("gives every model a mock version that runs anywhere and an openai version beside it", () => {
    for (const model of set.models.values()) {
      const providers = new Set(Object.values(model.versions).map((v) => v.provider));
      expect(providers, model.name).toContain("mock");
      expect(providers, model.name).toContain("openai");
    }
  });

  it("uses every node type and all five built-in ops", () => {
    const nodes = [...set.workflows.values()].flatMap((plan) => Object.values(plan.nodes));
    const all = [...nodes, ...nodes.flatMap((n) => (n.type === "map" ? [n.node] : []))];
    expect(new Set(all.map((n) => n.type))).toEqual(
      new Set(["model", "preprocess", "transform", "map", "workflow", "wait", "approval"]),
    );
    const ops = new Set(all.flatMap((n) => (n.type === "preprocess" ? [n.op] : [])));
    expect(ops).toEqual(new Set(["normalize_text", "chunk_text", "redact_pii", "validate", "json_parse"]));
  });

  it("ships a sample input for each workflow that fits its input schema", () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    const inputs = readdirSync("examples/inputs").filter((f) => f.endsWith(".json"));
    for (const plan of set.workflows.values()) {
      expect(inputs).toContain(`${plan.workflow}.json`);
      const input = JSON.parse(readFileSync(join("examples/inputs", `${plan.workflow}.json`), "utf8"));
      const validate = ajv.compile(plan.inputs === null ? true : (plan.inputs as object));
      expect(validate(input), `${plan.workflow}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });
});

describe("the language spec's own examples", () => {
  it("validate", () => {
    const text = readFileSync("tests/fixtures/spec-examples.yaml.txt", "utf8");
    const set = validateDefinitions([{ path: "spec-examples.yaml", text }], { resolve: false });
    expect(set.files.flatMap((f) => [...f.errors, ...f.warnings])).toEqual([]);
  });
});
