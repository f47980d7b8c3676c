import { type Diagnostic, type FileReport, validationJson } from "../compiler/index.ts";

/**
 * `pflow validate` output formats. text: one line per finding, as compilers
 * print them; github: workflow-command annotations; json: the report shape of
 * the interfaces spec, shared with POST /v1/validate.
 */
export type FindingsFormat = "text" | "github" | "json";

export function formatFindings(
  files: readonly FileReport[],
  format: FindingsFormat,
  skipped: readonly string[] = [],
): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(validationJson(files, skipped), null, 2)}\n`;
    case "github":
      return lines(files, githubLine);
    case "text":
      return lines(files, textLine);
  }
}

function lines(files: readonly FileReport[], render: (d: Diagnostic) => string): string {
  const out: string[] = [];
  for (const file of files) {
    const all = [...file.errors, ...file.warnings].sort((a, b) => a.line - b.line || a.column - b.column);
    for (const d of all) out.push(render(d));
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

function textLine(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.code}: ${d.message}`;
}

/** https://docs.github.com/actions/reference/workflow-commands-for-github-actions */
function githubLine(d: Diagnostic): string {
  const level = d.severity === "error" ? "error" : "warning";
  return `::${level} file=${githubProperty(d.file)},line=${d.line},col=${d.column},title=${githubProperty(d.code)}::${githubData(d.message)}`;
}

/** A workflow command's message, escaped. */
export function githubData(value: string): string {
  return value.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** A workflow command's property value (file, title), escaped. */
export function githubProperty(value: string): string {
  return githubData(value).replaceAll(":", "%3A").replaceAll(",", "%2C");
}
