import { parseArgs } from "node:util";
import { collectDefinitionFiles, validateDefinitions } from "../compiler/index.ts";
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
  return result.valid ? EXIT.ok : EXIT.failed;
}
