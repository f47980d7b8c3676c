import { parseArgs } from "node:util";
import { collectDefinitionFiles, type FileReport, validateDefinitions } from "../compiler/index.ts";
import { defaultDefinitionsDir } from "./definitions-dir.ts";
import { type FindingsFormat, formatFindings } from "./findings-format.ts";
import { EXIT, UsageError } from "./usage.ts";

export async function validateCommand(args: string[], stdout: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    allowNegative: true,
    options: {
      format: { type: "string", default: "text" },
      resolve: { type: "boolean", default: true },
    },
  });
  const format = values.format as FindingsFormat;
  if (!["text", "github", "json"].includes(format)) {
    throw new UsageError(`--format must be text, github or json, not "${values.format}"`);
  }
  const paths = positionals.length > 0 ? positionals : [defaultDefinitionsDir() ?? "."];
  const { files, skipped } = await collectDefinitionFiles(paths);
  const result = validateDefinitions(files, { resolve: values.resolve, sources: false });
  stdout(formatFindings(result.files, format, skipped));
  if (format === "text") stdout(`${summaryLine(result.files)}\n`);
  return result.valid ? EXIT.ok : EXIT.failed;
}

/** The last line of the text output: `6 files, 0 errors, 1 warning`. */
export function summaryLine(files: readonly FileReport[]): string {
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const errors = files.reduce((sum, file) => sum + file.errors.length, 0);
  const warnings = files.reduce((sum, file) => sum + file.warnings.length, 0);
  return `${count(files.length, "file")}, ${count(errors, "error")}, ${count(warnings, "warning")}`;
}
