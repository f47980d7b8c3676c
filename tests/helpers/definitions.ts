import {
  type DefinitionSet,
  type Diagnostic,
  type SourceFile,
  validateDefinitions,
} from "../../compiler/index.ts";

/** Strips the common indentation of a template literal, so fixtures read as YAML. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]) : ""), "");
  const lines = text.replace(/^\n/, "").split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)?.[0].length ?? 0));
  return lines.map((l) => l.slice(indent)).join("\n");
}

/** Validates files given as { path: text } (one file: "test.yaml"). */
export function check(files: string | Record<string, string>, resolve = true): DefinitionSet {
  const map = typeof files === "string" ? { "test.yaml": files } : files;
  const sources: SourceFile[] = Object.entries(map).map(([path, text]) => ({ path, text }));
  return validateDefinitions(sources, { resolve });
}

export function findings(files: string | Record<string, string>, resolve = true): Diagnostic[] {
  return check(files, resolve).files.flatMap((f) => [...f.errors, ...f.warnings]);
}

/** Findings as "code line:column" strings, the shape most tests assert. */
export function where(files: string | Record<string, string>, resolve = true): string[] {
  return findings(files, resolve).map((d) => `${d.code} ${d.line}:${d.column}`);
}

export const MODEL = yaml`
  apiVersion: pflow/v1
  kind: Model
  metadata:
    name: writer
  spec:
    versions:
      "1":
        provider: mock
        response: { text: "{{ 'draft for ' & input.prompt }}" }
      "2":
        provider: mock
        response: { text: "v2" }
    aliases:
      production: { version: "1", canary: { version: "2", percent: 10 } }
      stable: "1"
`;
