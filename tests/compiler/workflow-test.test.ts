import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { subsetDifferences } from "../../cli/test/expectations.ts";
import { runTests } from "../../cli/test/run-tests.ts";
import { collectDefinitionFiles, validateDefinitions } from "../../compiler/index.ts";

const WORKFLOW = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: greet }
spec:
  nodes:
    write: { type: model, model: writer, input: { q: 1 } }
---
apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: mock, response: { text: hi } }
`;

function findings(test: string): string[] {
  const set = validateDefinitions([
    { path: "greet.yaml", text: WORKFLOW },
    { path: "greet.test.yaml", text: test },
  ]);
  return set.files.flatMap((file) =>
    file.errors.map((d) => `${d.file}:${d.line}:${d.column}: ${d.code}: ${d.message}`),
  );
}

const HEAD = `apiVersion: pflow/v1
kind: WorkflowTest
metadata: { name: greet }
spec:
  workflow: greet
  cases:
`;

describe("WorkflowTest documents in pflow validate", () => {
  it("a valid test is part of the set, with each case's line, and registers nothing", () => {
    const set = validateDefinitions([
      { path: "greet.yaml", text: WORKFLOW },
      {
        path: "greet.test.yaml",
        text: `${HEAD}    - name: one\n      models: { writer: { output: { text: x } } }\n      expect: { nodes: { write: succeeded }, assert: "nodes.write.output.text = 'x'" }\n`,
      },
    ]);
    expect(set.valid).toBe(true);
    expect(set.tests).toMatchObject([
      {
        name: "greet",
        file: "greet.test.yaml",
        workflow: { name: "greet", version: null },
        cases: [{ name: "one", line: 7, column: 7 }],
      },
    ]);
    expect([...set.sources.keys()].sort()).toEqual(["Model/writer", "Workflow/greet"]);
  });

  it("schema errors point at their line:col, with did-you-mean", () => {
    expect(findings(`${HEAD}    - name: one\n      expect: { stauts: failed }\n`)).toEqual([
      'greet.test.yaml:8:17: schema: unknown field "stauts" in "expect" (did you mean "status"?)',
    ]);
    expect(
      findings(
        `${HEAD}    - name: one\n      mocks: { write: { output: 1, error: { code: x, message: y } } }\n`,
      )[0],
    ).toMatch(/^greet\.test\.yaml:8:/);
  });

  it("names the workflow, nodes and models must have, with did-you-mean", () => {
    expect(findings(`${HEAD.replace("workflow: greet", "workflow: gret")}    - name: one\n`)).toEqual([
      'greet.test.yaml:5:13: unknown-workflow: no workflow is named "gret" (did you mean "greet"?)',
    ]);
    expect(
      findings(
        `${HEAD}    - name: one\n      models: { writr: { output: 1 } }\n      expect: { attempts: { wirte: 1 }, assert: "nodes.wrte.output" }\n`,
      ),
    ).toEqual([
      'greet.test.yaml:8:17: unknown-model: no model is named "writr" (did you mean "writer"?)',
      'greet.test.yaml:9:29: unknown-node: expect.attempts names node "wirte", which workflow "greet" does not have (did you mean "write"?)',
      'greet.test.yaml:9:49: unknown-node: assert names node "wrte", which workflow "greet" does not have (did you mean "write"?)',
    ]);
  });

  it("asserts parse and read only their context; case names are unique", () => {
    expect(
      findings(
        `${HEAD}    - name: one\n      expect: { assert: "output.(" }\n    - name: one\n      expect: { assert: ["outptu.x = 1"] }\n`,
      ),
    ).toEqual([
      expect.stringMatching(/^greet\.test\.yaml:8:25: expression-syntax: .* in assert "output\.\("$/),
      'greet.test.yaml:9:13: duplicate-name: case "one" is already defined at greet.test.yaml:7:13',
      'greet.test.yaml:10:26: unknown-reference: assert reads "outptu", which is not in its context (output, nodes, inputs, status, error) (did you mean "output"?)',
    ]);
  });
});

describe("the committed definitions and the examples", () => {
  for (const folder of ["definitions", "examples"]) {
    it(`${folder}/: every workflow ships its tests`, async () => {
      const { files } = await collectDefinitionFiles([join(import.meta.dirname, "../..", folder)]);
      const set = validateDefinitions(files);
      expect(set.valid).toBe(true);
      const tested = new Set(set.tests.map((test) => test.workflow.name));
      expect([...set.workflows.keys()].filter((name) => !tested.has(name))).toEqual([]);
    });
  }
});

describe("docs/testing.md", () => {
  it("its example is valid against the examples, and passes", async () => {
    const docs = readFileSync(join(import.meta.dirname, "../../docs/testing.md"), "utf8");
    const example = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1] ?? "";
    const { files } = await collectDefinitionFiles([join(import.meta.dirname, "../../examples")]);
    const set = validateDefinitions([
      ...files.filter((file) => !file.path.endsWith("listing-description.test.yaml")),
      { path: "docs/testing.md", text: example },
    ]);
    expect(set.files.flatMap((file) => file.errors)).toEqual([]);
    const results = await runTests(
      set,
      set.tests.filter((test) => test.file === "docs/testing.md"),
    );
    expect(results.map((r) => [r.case, r.failures])).toEqual([
      ["tidies a mocked draft into the teaser", []],
      ["a failed first attempt is retried", []],
      ["the small model writes when listing-writer is down", []],
      ["an input without a city is refused", []],
    ]);
  });
});

describe("expect.output: a subset", () => {
  const diff = (expected: unknown, actual: unknown) => {
    const out: string[] = [];
    subsetDifferences(expected, actual, "output", out);
    return out;
  };

  it("objects match by the keys given; arrays item by item and of the same length; the rest exactly", () => {
    expect(diff({ a: 1 }, { a: 1, b: 2 })).toEqual([]);
    expect(diff({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 2, d: 3 }] } })).toEqual([]);
    expect(diff({ a: { b: 2 } }, { a: { b: 3 } })).toEqual(["output.a.b: expected 2, got 3"]);
    expect(diff({ "odd key": 1 }, {})).toEqual(['output["odd key"]: expected 1, got nothing (no such key)']);
    expect(diff([1, 2], [1])).toEqual(["output: expected 2 items, got 1: [1]"]);
    expect(diff([{ a: 1 }], [{ a: 2 }])).toEqual(["output[0].a: expected 1, got 2"]);
    expect(diff({ a: 1 }, null)).toEqual(["output: expected an object, got null"]);
    expect(diff("1", 1)).toEqual(['output: expected "1", got 1']);
    expect(diff(null, null)).toEqual([]);
  });
});
