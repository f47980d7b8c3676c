import { describe, expect, it } from "vitest";
import { VALIDATION_CODES } from "../../compiler/index.ts";
import { findings, MODEL, where, yaml } from "../helpers/definitions.ts";

// One definition per validation code, asserting the code, line and column of
// its one finding (and, where it matters, the words of the message).

const workflow = (nodes: string, extra = "") => yaml`
apiVersion: pflow/v1
kind: Workflow
metadata:
  name: flow
spec:
${extra}  nodes:
${nodes}`;

describe("every validation code", () => {
  const covered = new Set<string>();
  const expectOne = (
    code: keyof typeof VALIDATION_CODES,
    files: string | Record<string, string>,
    at: string,
  ) => {
    covered.add(code);
    expect(where(files)).toEqual([`${code} ${at}`]);
  };

  it("yaml-syntax: the YAML does not parse", () => {
    expectOne("yaml-syntax", "apiVersion: pflow/v1\nkind: [Workflow\nmetadata: {}\n", "3:1");
  });

  it("yaml-limits: too deep", () => {
    expectOne("yaml-limits", `a: ${"[".repeat(70)}${"]".repeat(70)}\n`, "1:68");
  });

  it("duplicate-key: a mapping repeats a key", () => {
    const text = workflow("    a: { type: transform, expr: '1' }\n    a: { type: transform, expr: '2' }\n");
    expectOne("duplicate-key", text, "8:5");
    expect(findings(text)[0]?.message).toBe('the key "a" appears more than once in this mapping');
  });

  it("empty-file: no documents", () => {
    expectOne("empty-file", "# nothing here yet\n", "1:1");
  });

  it("schema: an unknown field, with did you mean", () => {
    const text = workflow("    a:\n      type: transform\n      expr: '1'\n      timout: 5s\n");
    expectOne("schema", text, "10:7");
    expect(findings(text)[0]?.message).toBe('unknown field "timout" in "a" (did you mean "timeout"?)');
  });

  it("unquoted-expression: {{ }} read as a mapping", () => {
    const text = workflow("    a:\n      type: transform\n      expr: '1'\n      when: {{ inputs.go }}\n");
    expectOne("unquoted-expression", text, "10:13");
    expect(findings(text)[0]?.message).toContain('write "{{ inputs.go }}"');
  });

  it("expression-syntax: JSONata does not parse", () => {
    const text = workflow("    a:\n      type: transform\n      expr: 'inputs.x +'\n");
    expectOne("expression-syntax", text, "9:13");
    expect(findings(text)[0]?.message).toContain("Unexpected end of expression");
  });

  it("unknown-reference: a name not in the context", () => {
    const text = workflow("    a:\n      type: transform\n      expr: 'input.tone'\n");
    expectOne("unknown-reference", text, "9:13");
    expect(findings(text)[0]?.message).toContain(
      'reads "input", which is not in its context (did you mean "inputs"?)',
    );
  });

  it("relative-reference (warning): nodes inside a predicate", () => {
    const nodes =
      "    a: { type: transform, expr: '1' }\n    b:\n      type: transform\n      expr: 'inputs.items[id = nodes.a.output]'\n";
    expectOne("relative-reference", workflow(nodes), "10:13");
    expect(findings(workflow(nodes))[0]?.severity).toBe("warning");
  });

  it("dynamic-reference (warning): nodes read without naming one", () => {
    expectOne(
      "dynamic-reference",
      workflow("    a:\n      type: transform\n      expr: '$keys(nodes)'\n"),
      "9:13",
    );
  });

  it("invalid-duration: not 250ms, 30s, 5m, 2h or 1d", () => {
    const text = workflow("    a:\n      type: transform\n      expr: '1'\n      timeout: 30 seconds\n");
    expectOne("invalid-duration", text, "10:16");
  });

  it("unknown-node: needs names a node that does not exist", () => {
    const nodes =
      "    fetch_comp: { type: transform, expr: '1' }\n    score:\n      type: transform\n      expr: '2'\n      needs: [fetch_comps]\n";
    expectOne("unknown-node", workflow(nodes), "11:15");
    expect(findings(workflow(nodes))[0]?.message).toBe(
      '"needs" refers to node "fetch_comps", which does not exist (did you mean "fetch_comp"?)',
    );
  });

  it("cycle: reported as a path", () => {
    const nodes =
      "    a:\n      type: transform\n      expr: 'nodes.b.output'\n    b:\n      type: transform\n      expr: 'nodes.a.output'\n";
    expectOne("cycle", workflow(nodes), "9:13");
    expect(findings(workflow(nodes))[0]?.message).toContain("a -> b -> a");
  });

  it("unknown-model: a reference to no model, version or alias", () => {
    const flow = workflow("    draft:\n      type: model\n      model: writer@prod\n");
    expectOne("unknown-model", { "flow.yaml": flow, "model.yaml": MODEL }, "9:14");
    expect(findings({ "flow.yaml": flow, "model.yaml": MODEL })[0]?.message).toContain(
      '(did you mean "production"?)',
    );
  });

  it("retired-model: a reference resolves to a retired version", () => {
    const model = MODEL.replace(
      '    "2":\n      provider: mock',
      '    "2":\n      stage: retired\n      provider: mock',
    ).replace(', canary: { version: "2", percent: 10 }', "");
    expect(model).not.toContain("canary");
    expect(model).toContain("stage: retired");
    const flow = workflow("    draft:\n      type: model\n      model: writer@2\n");
    expectOne("retired-model", { "flow.yaml": flow, "model.yaml": model }, "9:14");
  });

  it("deprecated-model (warning): a reference resolves to a deprecated version", () => {
    const model = MODEL.replace(
      '    "1":\n      provider: mock',
      '    "1":\n      stage: deprecated\n      stageChange: { reason: "use 2" }\n      provider: mock',
    );
    expect(model).toContain("stage: deprecated");
    const flow = workflow("    draft:\n      type: model\n      model: writer@1\n");
    expectOne("deprecated-model", { "flow.yaml": flow, "model.yaml": model }, "9:14");
    expect(findings({ "flow.yaml": flow, "model.yaml": model })[0]?.message).toContain("deprecated (use 2)");
  });

  it("stream-ignored (warning): an embeddings call cannot stream", () => {
    const flow = workflow(
      "    vectors:\n      type: model\n      model: writer@1\n      stream: true\n      input: { embed: hi }\n",
    );
    expectOne("stream-ignored", { "flow.yaml": flow, "model.yaml": MODEL }, "10:7");
    expect(findings({ "flow.yaml": flow, "model.yaml": MODEL })[0]?.severity).toBe("warning");
  });

  it("unknown-workflow: a workflow node names no workflow", () => {
    expectOne(
      "unknown-workflow",
      workflow("    child:\n      type: workflow\n      workflow: flw\n"),
      "9:17",
    );
    expect(
      findings(workflow("    child:\n      type: workflow\n      workflow: flw\n"))[0]?.message,
    ).toContain('(did you mean "flow"?)');
  });

  it("duplicate-name: two documents of one kind share a name", () => {
    const one = workflow("    a: { type: transform, expr: '1' }\n");
    expectOne("duplicate-name", { "one.yaml": one, "two.yaml": one }, "4:9");
    expect(findings({ "one.yaml": one, "two.yaml": one })[0]?.message).toBe(
      'workflow "flow" is already defined at one.yaml:4:9',
    );
  });

  it("unknown-op: a preprocess op that does not exist", () => {
    const text = workflow(
      "    a:\n      type: preprocess\n      op: normalise_text\n      with: { text: hi }\n",
    );
    expectOne("unknown-op", text, "9:11");
    expect(findings(text)[0]?.message).toContain('(did you mean "normalize_text"?)');
  });

  it("op-arguments: with does not fit the op's schema", () => {
    const text = workflow(
      "    a:\n      type: preprocess\n      op: chunk_text\n      with: { text: hi, size: big }\n",
    );
    expectOne("op-arguments", text, "10:31");
  });

  it("wait-condition: a wait node on more than one thing", () => {
    const text = workflow("    w:\n      type: wait\n      signal: go\n      for: 7d\n");
    expectOne("wait-condition", text, "10:7");
    expect(findings(text)[0]?.message).toBe(
      "a wait node waits on exactly one of signal, for or until, not signal and for",
    );
    expect(where(workflow("    w: { type: wait }\n"))).toEqual(["wait-condition 7:16"]);
    expect(where(workflow("    w: { type: wait, for: 1m, schema: { type: object } }\n"))).toEqual([
      "wait-condition 7:31",
    ]);
  });

  it("invalid-timestamp: a literal until that is no timestamp", () => {
    expectOne("invalid-timestamp", workflow("    w:\n      type: wait\n      until: next Monday\n"), "9:14");
    expect(where(workflow('    w: { type: wait, until: "{{ inputs.at }}" }\n'))).toEqual([]);
  });

  it("unknown-function: a misspelt JSONata function, with did you mean", () => {
    const text = workflow(
      "    a:\n      type: transform\n      expr: \"$contians(inputs.text, 'x')\"\n",
      "  inputs: { type: object, properties: { text: { type: string } } }\n",
    );
    expectOne("unknown-function", text, "10:14");
    expect(findings(text)[0]?.message).toBe(
      "expression \"$contians(inputs.text, 'x')\" calls $contians at character 1, which is not a JSONata function (did you mean $contains?)",
    );
  });

  it("unknown-function: functions the expression defines, and lambda parameters, are not unknown", () => {
    const text = workflow(
      "    a:\n      type: transform\n      expr: '($twice := function($f, $v) { $f($f($v)) }; $twice(function($x) { $x + 1 }, 1))'\n" +
        "    b:\n      type: transform\n      expr: '[1, 2]@$i.$string($i)'\n",
    );
    expect(where(text)).toEqual([]);
  });

  it("unknown-function: in a template, where it is one of several parts", () => {
    const text = workflow(
      "    a:\n      type: transform\n      expr: '1'\n      when: \"{{ $exist(inputs.go) }}\"\n",
    );
    expect(where(text)).toEqual(["unknown-function 10:17"]);
    expect(findings(text)[0]?.message).toContain("(did you mean $exists?)");
  });

  it("unknown-function: points at the call itself inside a multi-line expression", () => {
    const text = workflow(
      "    a:\n      type: transform\n      expr: |\n        $uppercase(\n          $trimm(inputs.text)\n        )\n",
    );
    expect(where(text)).toEqual(["unknown-function 11:11"]);
  });

  it("unknown-input: a field the inputs schema does not declare, with did you mean", () => {
    const text = workflow(
      '    a:\n      type: transform\n      expr: "inputs.titel"\n',
      "  inputs:\n    type: object\n    properties: { title: { type: string }, body: { type: string } }\n",
    );
    expectOne("unknown-input", text, "12:14");
    expect(findings(text)[0]?.message).toBe(
      'expression "inputs.titel" reads inputs.titel, which the inputs schema does not declare (did you mean "title"?); it declares title, body',
    );
  });

  it("unknown-input: not where the schema lets other fields in, or declares none", () => {
    const open = (schema: string) =>
      where(workflow('    a:\n      type: transform\n      expr: "inputs.extra"\n', `  inputs: ${schema}\n`));
    expect(open("{ type: object, properties: { a: {} }, additionalProperties: true }")).toEqual([]);
    expect(open("{ type: object, properties: { a: {} }, patternProperties: { '^x': {} } }")).toEqual([]);
    expect(open("{ type: object }")).toEqual([]);
    expect(where(workflow('    a:\n      type: transform\n      expr: "inputs.extra"\n'))).toEqual([]);
    expect(open("{ type: object, properties: { a: {} }, additionalProperties: false }")).toEqual([
      "unknown-input 10:14",
    ]);
  });

  it("unknown-output-field: a field the node's outputSchema does not declare", () => {
    const text = workflow(
      "    a:\n      type: transform\n      expr: '{ \"score\": 1 }'\n" +
        "      outputSchema: { type: object, properties: { score: { type: number } } }\n" +
        "    b:\n      type: transform\n      expr: 'nodes.a.output.scroe * 2'\n",
    );
    expectOne("unknown-output-field", text, "13:14");
    expect(findings(text)[0]?.message).toBe(
      'expression "nodes.a.output.scroe * 2" reads nodes.a.output.scroe, which node "a"\'s outputSchema does not declare (did you mean "score"?); it declares score',
    );
    expect(findings(text)[0]?.severity).toBe("warning");
  });

  it("unknown-output-field: nothing said for a node without outputSchema, or a map node", () => {
    const text = workflow(
      "    a:\n      type: transform\n      expr: '1'\n" +
        "    b:\n      type: transform\n      expr: 'nodes.a.output.anything'\n",
    );
    expect(where(text)).toEqual([]);
  });

  it("yaml-syntax: a misindented key says which column was expected, at the key", () => {
    const under = "apiVersion: pflow/v1\nkind: Workflow\nmetadata:\n  name: x\n description: y\nspec: {}\n";
    expect(where(under)).toEqual(["yaml-syntax 5:2"]);
    expect(findings(under)[0]?.message).toBe(
      'All mapping items must start at the same column: key "description" is at column 2, expected column 3 like the keys above it (or column 1, for an enclosing mapping)',
    );
    const over = "apiVersion: pflow/v1\nkind: Workflow\nmetadata:\n  name: x\n   description: y\nspec: {}\n";
    expect(where(over)).toEqual(["yaml-syntax 5:4"]);
    expect(findings(over)[0]?.message).toContain('key "description" is at column 4, expected column 3');
  });

  it("cron-syntax: a cron expression that does not parse", () => {
    const text = workflow(
      "    a: { type: transform, expr: '1' }\n",
      '  triggers:\n    - cron: "0 25 * * *"\n',
    );
    expectOne("cron-syntax", text, "7:13");
    expect(findings(text)[0]?.message).toMatch(
      /^cron "0 25 \* \* \*" is not valid: Invalid value for hour: 25/,
    );
  });

  it("unknown-timezone: not an IANA time zone", () => {
    const text = workflow(
      "    a: { type: transform, expr: '1' }\n",
      '  triggers:\n    - { cron: "0 3 * * *", timezone: CET+1 }\n',
    );
    expectOne("unknown-timezone", text, "7:38");
  });

  it("inline-secret: a webhook secret written in the definition", () => {
    const text = workflow(
      "    a: { type: transform, expr: '1' }\n",
      "  triggers:\n    - webhook: { name: crm, secret: hunter2 }\n",
    );
    expectOne("inline-secret", text, "7:37");
  });

  it("duplicate-trigger: two triggers of a workflow with one name", () => {
    const text = workflow(
      "    a: { type: transform, expr: '1' }\n",
      '  triggers:\n    - { name: t, cron: "0 3 * * *" }\n    - { name: t, cron: "0 4 * * *" }\n',
    );
    expectOne("duplicate-trigger", text, "8:15");
  });

  it("covers the whole table", () => {
    expect([...covered].sort()).toEqual(Object.keys(VALIDATION_CODES).sort());
  });
});
