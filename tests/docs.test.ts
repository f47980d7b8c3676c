import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { formatFindings } from "../cli/findings-format.ts";
import { VALIDATION_CODES, validateDefinitions } from "../compiler/index.ts";

// docs/language.md documents every validation code with an example file and the
// exact output of `pflow validate example.yaml`; this keeps the two honest.

const docs = readFileSync("docs/language.md", "utf8");

function section(code: string): { yaml: string; text: string } | undefined {
  const start = docs.indexOf(`### \`${code}\`\n`);
  if (start < 0) return undefined;
  const end = docs.indexOf("\n### ", start + 1);
  const body = docs.slice(start, end < 0 ? undefined : end);
  const yaml = /```yaml\n([\s\S]*?)```/.exec(body)?.[1];
  const text = /```text\n([\s\S]*?)```/.exec(body)?.[1];
  return yaml === undefined || text === undefined ? undefined : { yaml, text };
}

describe("docs/language.md", () => {
  for (const code of Object.keys(VALIDATION_CODES)) {
    it(`documents ${code} with an example that triggers it, and its real output`, () => {
      const example = section(code);
      expect(example, `no section for ${code}`).toBeDefined();
      const set = validateDefinitions([{ path: "example.yaml", text: example?.yaml ?? "" }]);
      const all = set.files.flatMap((f) => [...f.errors, ...f.warnings]);
      expect(all.map((d) => d.code)).toContain(code);
      expect(formatFindings(set.files, "text")).toBe(example?.text);
    });
  }
});

describe("docs/language.md examples outside the codes section", () => {
  const reference = docs.slice(0, docs.indexOf("## Validation codes"));
  const blocks = [...reference.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const whole = blocks.filter((block) => block.includes("apiVersion: pflow/"));
  const fragments = blocks.filter((block) => block.startsWith("# fragment"));

  it("has examples to check", () => {
    expect(whole.length).toBeGreaterThan(0);
    expect(fragments.length).toBeGreaterThan(5);
  });

  it("has fragments that are YAML", () => {
    for (const fragment of fragments)
      expect(parseAllDocuments(fragment).flatMap((d) => d.errors)).toEqual([]);
  });

  whole.forEach((block, i) => {
    it(`example ${i + 1} validates`, () => {
      const set = validateDefinitions([{ path: `docs-example-${i + 1}.yaml`, text: block }], {
        resolve: false,
      });
      expect(set.files.flatMap((f) => [...f.errors, ...f.warnings])).toEqual([]);
    });
  });
});

describe("docs/models.md examples", () => {
  const guide = readFileSync("docs/models.md", "utf8");
  const blocks = [...guide.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const whole = blocks.filter((block) => block.includes("apiVersion: pflow/"));

  it("has a complete Model document, and YAML everywhere", () => {
    expect(whole.length).toBeGreaterThan(0);
    for (const block of blocks) expect(parseAllDocuments(block).flatMap((d) => d.errors)).toEqual([]);
  });

  whole.forEach((block, i) => {
    it(`document ${i + 1} validates with no finding`, () => {
      const set = validateDefinitions([{ path: `models-guide-${i + 1}.yaml`, text: block }]);
      expect(set.files.flatMap((f) => [...f.errors, ...f.warnings])).toEqual([]);
    });
  });
});
