import { describe, expect, it } from "vitest";
import { check, findings, MODEL, where, yaml } from "../helpers/definitions.ts";

const flow = (nodes: string, name = "flow", extra = "") =>
  `apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: ${name} }\nspec:\n${extra}  nodes:\n${nodes}`;
const messages = (files: string | Record<string, string>, resolve = true) =>
  findings(files, resolve).map((d) => d.message);

describe("schema findings read as YAML, not as JSON Schema", () => {
  it("an unknown node type, with did you mean", () => {
    expect(messages(flow("    a: { type: modle, model: writer }\n"))).toEqual([
      '"type" "modle" is not one of "model", "preprocess", "transform", "map", "workflow" (did you mean "model"?)',
    ]);
  });

  it("a missing required field, at the node's key", () => {
    expect(where(flow("    draft:\n      type: model\n"))).toEqual(["schema 6:5"]);
    expect(messages(flow("    draft:\n      type: model\n"))).toEqual([
      '"draft" is missing the required field "model"',
    ]);
  });

  it("a wrong apiVersion and a bad name", () => {
    const text =
      "apiVersion: pflow/v2\nkind: Workflow\nmetadata: { name: My_Flow }\nspec: { nodes: { a: { type: transform, expr: '1' } } }\n";
    expect(messages(text)).toEqual([
      '"apiVersion" must be "pflow/v1", not "pflow/v2"',
      '"name" "My_Flow" is not valid: lowercase letters, digits and \'-\', starting with a letter, at most 63 characters',
    ]);
  });

  it("an invalid node id, at the key", () => {
    expect(where(flow("    Bad-Id: { type: transform, expr: '1' }\n"))).toEqual(["schema 6:5"]);
    expect(messages(flow("    Bad-Id: { type: transform, expr: '1' }\n"))[0]).toContain(
      '"Bad-Id" is not a valid node id',
    );
  });

  it("an unknown kind", () => {
    expect(messages("apiVersion: pflow/v1\nkind: Workflw\nmetadata: { name: a }\nspec: {}\n")).toEqual([
      '"kind" "Workflw" is not one of "Workflow", "Model", "WorkflowTest" (did you mean "Workflow"?)',
    ]);
  });

  it("a document that is not a mapping", () => {
    expect(messages("just a string\n")).toEqual([
      "a definition must be a mapping with apiVersion, kind, metadata and spec",
    ]);
  });

  it("a map template may not have needs, nor be a map", () => {
    const needs =
      '    m:\n      type: map\n      items: "{{ inputs.x }}"\n      node: { type: transform, expr: item, needs: [m] }\n';
    expect(messages(flow(needs))).toEqual(['unknown field "needs" in "node"']);
    const nested =
      "    m:\n      type: map\n      items: \"{{ inputs.x }}\"\n      node: { type: map, items: '{{ item }}', node: { type: transform, expr: item } }\n";
    expect(messages(flow(nested))[0]).toContain(
      '"type" "map" is not one of "model", "preprocess", "transform", "workflow"',
    );
  });

  it("a duration written as a number", () => {
    expect(findings(flow("    a: { type: transform, expr: '1', timeout: 30 }\n"))[0]?.code).toBe(
      "invalid-duration",
    );
  });
});

describe("expressions in context", () => {
  it("when and items must be one expression", () => {
    const text = flow("    a: { type: transform, expr: '1', when: 'inputs.go' }\n");
    expect(messages(text)).toEqual(['when must be one expression written as "{{ … }}", not "inputs.go"']);
    const items =
      "    m:\n      type: map\n      items: inputs.x\n      node: { type: transform, expr: item }\n";
    expect(where(flow(items))).toEqual(["schema 8:14"]);
  });

  it("transform.expr is bare JSONata", () => {
    expect(messages(flow("    a: { type: transform, expr: '{{ inputs.x }}' }\n"))).toEqual([
      "expr is bare JSONata: drop the {{ }} around it",
    ]);
  });

  it("item and index exist only in a map template", () => {
    expect(findings(flow("    a: { type: transform, expr: item }\n"))[0]?.code).toBe("unknown-reference");
    const ok =
      "    m:\n      type: map\n      items: \"{{ inputs.x }}\"\n      node: { type: transform, expr: 'item & index' }\n";
    expect(findings(flow(ok))).toEqual([]);
  });

  it("a mock response reads input and attempt, not inputs", () => {
    const model = MODEL.replace("input.prompt", "inputs.prompt");
    expect(findings(model).map((d) => d.code)).toEqual(["unknown-reference"]);
    expect(messages(model)[0]).toContain('(did you mean "input"?)');
  });

  it("outputs may reference nodes, which must exist", () => {
    const text = `${flow("    a: { type: transform, expr: '1' }\n")}  outputs: { x: "{{ nodes.b.output }}" }\n`;
    expect(where(text)).toEqual(["unknown-node 7:17"]);
  });

  it("an empty expression", () => {
    expect(messages(flow("    a: { type: model, model: w, input: '{{ }}' }\n"), false)).toEqual([
      "empty expression: write something between {{ and }}",
    ]);
  });

  it("a self-reference is a cycle", () => {
    expect(messages(flow("    a: { type: transform, expr: 'nodes.a.output' }\n"))[0]).toContain(
      "dependency cycle: a -> a",
    );
  });

  it("a longer cycle is reported once, as its path", () => {
    const nodes =
      "    a: { type: transform, expr: 'nodes.c.output' }\n    b: { type: transform, expr: 'nodes.a.output' }\n" +
      "    c: { type: transform, expr: 'nodes.b.output' }\n    d: { type: transform, expr: 'nodes.c.output' }\n";
    expect(messages(flow(nodes))).toEqual([
      "dependency cycle: a -> b -> c -> a (each node waits for the one before it)",
    ]);
  });
});

describe("preprocess ops", () => {
  it("leaves arguments given by one expression to the run-time check", () => {
    const text = flow(
      "    a: { type: preprocess, op: chunk_text, with: { text: '{{ inputs.t }}', size: '{{ inputs.n }}' } }\n",
    );
    expect(findings(text)).toEqual([]);
  });

  it("reports missing and unknown arguments", () => {
    expect(
      messages(flow("    a: { type: preprocess, op: chunk_text, with: { text: hi, sise: 3 } }\n")),
    ).toEqual([
      'chunk_text: with is missing the required field "size"',
      'chunk_text: unknown field "sise" (did you mean "size"?)',
    ]);
  });

  it("checks the JSON Schema given to validate", () => {
    const text = flow(
      "    a: { type: preprocess, op: validate, with: { data: 1, schema: { type: integr } } }\n",
    );
    expect(findings(text)[0]?.code).toBe("op-arguments");
  });
});

describe("user JSON Schemas", () => {
  it("inputs must be a valid JSON Schema", () => {
    const text = flow("    a: { type: transform, expr: '1' }\n", "flow", "  inputs: { type: objekt }\n");
    expect(where(text)[0]).toBe("schema 5:11");
  });
});

describe("models and references across the set", () => {
  it("resolves name, name@alias and name@version", () => {
    const text = flow(
      "    a: { type: model, model: writer }\n    b: { type: model, model: writer@stable }\n    c: { type: model, model: 'writer@2' }\n",
    );
    const set = check({ "flow.yaml": text, "model.yaml": MODEL });
    expect(set.valid).toBe(true);
    expect(set.models.get("writer")?.defaultTarget).toEqual({ alias: "production" });
  });

  it("an alias must point at a version the model has", () => {
    const model = MODEL.replace('stable: "1"', 'stable: "3"');
    expect(where(model)).toEqual(["unknown-model 15:13"]);
    expect(messages(model)[0]).toBe(
      'alias "stable" points to version "3", which model "writer" does not have (versions: 1, 2)',
    );
  });

  it("an alias may not share a version's name", () => {
    expect(findings(MODEL.replace('stable: "1"', '"2": "1"'))[0]?.code).toBe("schema");
    const clash = MODEL.replace('"2":\n', "beta:\n").replace('stable: "1"', 'beta: "1"');
    expect(findings(clash).map((d) => d.code)).toContain("duplicate-name");
  });

  it("does not report references to a document that has errors of its own", () => {
    const broken = MODEL.replace('response: { text: "v2" }', "respnse: 1");
    const text = flow("    a: { type: model, model: writer }\n");
    expect(findings({ "flow.yaml": text, "model.yaml": broken }).map((d) => `${d.file} ${d.code}`)).toEqual([
      "model.yaml schema",
    ]);
  });

  it("--no-resolve skips cross-document checks, and only those", () => {
    const text = flow("    a: { type: model, model: missing }\n    b: { type: workflow, workflow: other }\n");
    expect(findings(text, false)).toEqual([]);
    expect(findings(text, true).map((d) => d.code)).toEqual(["unknown-model", "unknown-workflow"]);
  });

  it("sub-workflows may not call themselves through others", () => {
    const a = flow("    call: { type: workflow, workflow: b }\n", "a");
    const b = flow("    call: { type: workflow, workflow: a }\n", "b");
    const found = findings({ "a.yaml": a, "b.yaml": b });
    expect(found.map((d) => `${d.file} ${d.code} ${d.line}:${d.column}`)).toEqual(["a.yaml cycle 6:39"]);
    expect(found[0]?.message).toBe(
      "workflow cycle: a -> b -> a (each workflow runs the next as a sub-workflow)",
    );
  });

  it("a sub-workflow reference may pin a version", () => {
    const a = flow("    call: { type: workflow, workflow: b@3 }\n", "a");
    const b = flow("    x: { type: transform, expr: '1' }\n", "b");
    const plan = check({ "a.yaml": a, "b.yaml": b }).workflows.get("a");
    expect(plan?.nodes.call).toMatchObject({ workflow: { name: "b", version: 3 } });
  });

  it("highest version is numeric-aware", () => {
    const model = yaml`
      apiVersion: pflow/v1
      kind: Model
      metadata: { name: m }
      spec:
        versions:
          "9": { provider: mock, response: 9 }
          "10": { provider: mock, response: 10 }
    `;
    expect(check(model).models.get("m")?.defaultTarget).toEqual({ version: "10" });
  });
});

describe("findings stay one per mistake", () => {
  it("a node without a type gets one finding, not one per node type", () => {
    expect(messages(flow("    a: { expr: '1' }\n"))).toEqual(['"a" is missing the required field "type"']);
    const model = MODEL.replace('provider: mock\n      response: { text: "v2" }', 'response: { text: "v2" }');
    expect(model).not.toBe(MODEL);
    expect(messages(model)).toEqual(['"2" is missing the required field "provider"']);
  });

  it("an invalid node id says what a node id is", () => {
    expect(messages(flow("    Bad-Id: { type: transform, expr: '1' }\n"))).toEqual([
      "\"Bad-Id\" is not a valid node id: a letter, then letters, digits or '_', at most 63 characters",
    ]);
  });

  it("an invalid JSON Schema is one finding with a suggestion", () => {
    const text = flow("    a: { type: transform, expr: '1' }\n", "flow", "  inputs: { type: objekt }\n");
    expect(messages(text)).toEqual([
      'inputs is not a valid JSON Schema: at /type, "objekt" is not one of "array", "boolean", "integer", "null", "number", "object", "string" (did you mean "object"?)',
    ]);
  });

  it("version keys that are numbers read as keys, not array indexes", () => {
    const model = MODEL.replace('response: { text: "v2" }', 'response: { text: "v2" }\n      temperature: 1');
    expect(messages(model)).toEqual(['unknown field "temperature" in "2"']);
  });

  it("a repeated needs entry", () => {
    const nodes =
      "    a: { type: transform, expr: '1' }\n    b: { type: transform, expr: '2', needs: [a, a] }\n";
    expect(messages(flow(nodes))).toEqual(['"needs" lists "a" more than once']);
  });

  it("an absurdly long duration is invalid, not a crash", () => {
    expect(
      findings(flow("    a: { type: transform, expr: '1', timeout: 9999999999999999999d }\n"))[0]?.code,
    ).toBe("invalid-duration");
  });

  it("findings about a key written twice point at the value that counts, the last", () => {
    const text = flow(
      "    a: { type: transform, expr: '1' }\n    a: { type: transform, expr: '2', bogus: 1 }\n",
    );
    expect(where(text)).toEqual(["duplicate-key 7:5", "schema 7:38"]);
  });

  it("a %YAML 1.1 directive is refused: pflow is YAML 1.2", () => {
    const text = `%YAML 1.1\n---\n${flow("    a: { type: transform, expr: '1' }\n")}`;
    expect(messages(text)).toEqual(["pflow definitions are YAML 1.2: remove the %YAML 1.1 directive"]);
  });
});

describe("dynamic-reference is quiet where dependencies need no deriving", () => {
  it("in a node that lists its needs", () => {
    const nodes =
      "    a: { type: transform, expr: '1' }\n    b: { type: transform, expr: '$keys(nodes)', needs: [a] }\n";
    expect(findings(flow(nodes))).toEqual([]);
  });

  it("in outputs", () => {
    expect(
      findings(`${flow("    a: { type: transform, expr: '1' }\n")}  outputs: "{{ $keys(nodes) }}"\n`),
    ).toEqual([]);
  });
});

describe("timeouts of nodes that wait on others", () => {
  it("map and workflow nodes have none unless they set one", () => {
    const nodes =
      '    m:\n      type: map\n      items: "{{ inputs.x }}"\n      node: { type: transform, expr: item }\n' +
      "    w: { type: workflow, workflow: flow2, timeout: 1h }\n";
    const other = flow("    x: { type: transform, expr: '1' }\n", "flow2");
    const plan = check({
      "a.yaml": flow(nodes, "flow", "  defaults: { timeout: 30s }\n"),
      "b.yaml": other,
    }).workflows.get("flow");
    expect(plan?.nodes.m?.timeoutMs).toBeNull();
    expect(plan?.nodes.m?.type === "map" && plan.nodes.m.node.timeoutMs).toBe(30_000);
    expect(plan?.nodes.w?.timeoutMs).toBe(3_600_000);
  });
});

describe("a model's limits", () => {
  const limited = (lines: string) =>
    `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: limited }\nspec:\n${lines}\n  versions:\n    "1": { provider: mock, response: 1 }\n`;

  it("compiles rateLimit and circuitBreaker, with the breaker's defaults", () => {
    const set = check(
      limited(
        "  rateLimit: { tokensPerMinute: 90000 }\n  circuitBreaker: { failureRatio: 0.25, openFor: 2m }",
      ),
    );
    expect(set.valid).toBe(true);
    expect(set.models.get("limited")).toMatchObject({
      rateLimit: { requestsPerMinute: null, tokensPerMinute: 90000 },
      circuitBreaker: { failureRatio: 0.25, minCalls: 10, windowMs: 60_000, openForMs: 120_000 },
    });
    expect(check(limited("  concurrency: 2")).models.get("limited")).toMatchObject({
      rateLimit: null,
      circuitBreaker: null,
    });
  });

  it("refuses limits that cannot hold, at their line and column", () => {
    expect(where(limited("  rateLimit: { requestsPerMinute: 0 }"))).toEqual(["schema 5:35"]);
    expect(where(limited("  rateLimit: {}"))).toEqual(["schema 5:14"]);
    expect(where(limited("  circuitBreaker: { failureRatio: 1.5, window: soon }"))).toEqual([
      "schema 5:35",
      "invalid-duration 5:48",
    ]);
  });
});
