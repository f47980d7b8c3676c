import { describe, expect, it } from "vitest";
import { DEFAULT_YAML_LIMITS } from "../../compiler/index.ts";
import { parseYamlFile } from "../../compiler/yaml-source.ts";
import { findings, where, yaml } from "../helpers/definitions.ts";

describe("YAML limits: bombs are refused before they expand", () => {
  it("refuses a megabyte of aliases", () => {
    const text = `base: &b [1]\nlist:\n${"  - *b\n".repeat(180_000)}`;
    expect(text.length).toBeGreaterThan(1_000_000);
    const [finding] = findings(text);
    expect(finding?.code).toBe("yaml-limits");
    expect(finding?.message).toBe("the file uses more than 100 aliases");
  });

  it("refuses a megabyte of nesting", () => {
    const text = `a: ${"[".repeat(500_000)}${"]".repeat(500_000)}`;
    expect(where(text)).toEqual(["yaml-limits 1:68"]);
    expect(findings(text)[0]?.message).toBe("the file nests deeper than 64 levels");
  });

  it("refuses deep block nesting", () => {
    const text = Array.from({ length: 100 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n");
    expect(findings(text)[0]?.code).toBe("yaml-limits");
  });

  it("refuses a billion laughs that stays under the alias count", () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
    }
    const text = `${levels.join("\n")}\n`;
    const [finding] = findings(text);
    expect(finding?.code).toBe("yaml-limits");
    // 9⁹ strings and the lists that hold them, measured, never built.
    expect(finding?.message).toBe(
      "the document expands to 490,329,064 nodes with its aliases; the limit is 1,000,000",
    );
  });

  it("stops reading a file at the node limit, where it is reached", () => {
    const text = "key: 0\n".repeat(300_000);
    expect(where(text)).toEqual(["yaml-limits 250001:1"]);
    expect(findings(text)[0]?.message).toBe(
      "the file holds more than 500,000 nodes (keys, values and items)",
    );
    // Items and flow collections count as well as keys and values.
    const limits = { ...DEFAULT_YAML_LIMITS, maxNodes: 10 };
    const count = (text: string) => parseYamlFile("t.yaml", text, limits).diagnostics[0]?.message;
    expect(count(`list: [${"[], ".repeat(8)}]\n`)).toBeUndefined(); // list, [ and 8 × []
    expect(count(`list: [${"[], ".repeat(9)}]\n`)).toBe(
      "the file holds more than 10 nodes (keys, values and items)",
    );
    expect(count(`list:\n${"  -\n".repeat(10)}`)).toBe(
      "the file holds more than 10 nodes (keys, values and items)",
    );
  }, 30_000);

  it("measures what aliases expand to before expanding them", () => {
    const blob = (times: number) =>
      `a: &a "${"x".repeat(1024 * 1024)}"\nb: [${Array(times).fill("*a").join(", ")}]\n`;
    expect(findings(blob(99))[0]?.message).toBe(
      "the document expands to 104,857,706 bytes with its aliases; the limit is 16,777,216 bytes (16 MiB)",
    );
    expect(findings(blob(14)).filter((finding) => finding.code === "yaml-limits")).toEqual([]);
    // An alias of an alias counts what its anchor holds, aliases included.
    const chained = `a: &a "${"x".repeat(1024 * 1024)}"\nb: &b [${Array(5).fill("*a").join(", ")}]\nc: [${Array(3).fill("*b").join(", ")}]\n`;
    expect(findings(chained)[0]?.message).toContain("the document expands to 22,020,");
  });

  it("refuses a file over the size limit without parsing it", () => {
    const text = `# ${"x".repeat(9 * 1024 * 1024)}\n`;
    expect(findings(text)[0]?.message).toBe(
      "the file is 9,437,187 bytes; the limit is 8,388,608 bytes (8 MiB)",
    );
  });
});

describe("YAML parsing", () => {
  it("reports text that is not YAML as yaml-syntax at its place", () => {
    expect(where("key: value\n  - broken: [\n")).toEqual(["yaml-syntax 1:6"]);
  });

  it("reports an unterminated quoted string", () => {
    const [finding] = findings('apiVersion: "pflow/v1\nkind: Workflow\n');
    expect(finding?.code).toBe("yaml-syntax");
  });

  it("says to quote an expression that broke the YAML", () => {
    const text = yaml`
      a:
        text: {{ inputs.x }} and more
    `;
    const [finding] = findings(text);
    expect(finding?.code).toBe("yaml-syntax");
    expect(finding?.message).toContain('an expression must be quoted: "{{ … }}"');
  });

  it("keeps positions in later documents of a file", () => {
    const text = yaml`
      apiVersion: pflow/v1
      kind: Workflow
      metadata: { name: one }
      spec: { nodes: { a: { type: transform, expr: "1" } } }
      ---
      apiVersion: pflow/v1
      kind: Workflow
      metadata: { name: two }
      spec:
        nodes:
          a: { type: transform, expr: "1", bogus: 1 }
    `;
    const [finding] = findings(text);
    expect(finding).toMatchObject({
      code: "schema",
      line: 11,
      column: 38,
      document: 1,
      pointer: "/spec/nodes/a/bogus",
    });
  });

  it("repairs an unquoted expression so no schema errors cascade", () => {
    const text = yaml`
      apiVersion: pflow/v1
      kind: Workflow
      metadata: { name: flow }
      spec:
        inputs: { type: object }
        nodes:
          a:
            type: preprocess
            op: normalize_text
            with:
              text: {{ inputs.notes }}
    `;
    expect(where(text)).toEqual(["unquoted-expression 11:15"]);
  });

  it("rejects a collection used as a key", () => {
    expect(where("? [a, b]\n: 1\n")).toContain("schema 1:3");
    expect(findings("? [a, b]\n: 1\n").some((d) => d.message.includes("[ a, b ]"))).toBe(false);
  });

  it("reports unknown tags as warnings and keeps going", () => {
    const tagged = findings('apiVersion: !custom "pflow/v1"\n').find((d) => d.code === "yaml-syntax");
    expect(tagged).toMatchObject({
      severity: "warning",
      line: 1,
      column: 13,
      message: "Unresolved tag: !custom",
    });
  });

  it("ignores empty documents between separators", () => {
    const text =
      "---\n---\napiVersion: pflow/v1\nkind: Workflow\nmetadata: {name: a}\nspec: {nodes: {a: {type: transform, expr: '1'}}}\n---\n";
    expect(findings(text)).toEqual([]);
  });
});
