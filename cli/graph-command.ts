import { parseArgs } from "node:util";
import { collectDefinitionFiles, validateDefinitions } from "../compiler/index.ts";
import { formatFindings } from "./findings-format.ts";
import { type GraphFormat, renderGraph } from "./graph-render.ts";
import { EXIT, UsageError } from "./usage.ts";

export async function graphCommand(
  args: string[],
  stdout: (text: string) => void,
  stderr: (text: string) => void,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: "string", default: "mermaid" }, workflow: { type: "string" } },
  });
  const format = values.format as GraphFormat;
  if (format !== "mermaid" && format !== "dot") {
    throw new UsageError(`--format must be mermaid or dot, not "${values.format}"`);
  }
  if (positionals.length !== 1) throw new UsageError("pflow graph takes one FILE");
  const { files } = await collectDefinitionFiles(positionals);
  // One file on its own: its references to other files cannot be checked here.
  const result = validateDefinitions(files, { resolve: false });
  if (!result.valid) {
    stderr(formatFindings(result.files, "text"));
    return EXIT.usage;
  }
  const names = [...result.workflows.keys()];
  const name = values.workflow ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined) {
    throw new UsageError(
      names.length === 0
        ? `${positionals[0]} holds no workflow`
        : `${positionals[0]} holds several workflows (${names.join(", ")}): choose one with --workflow`,
    );
  }
  const plan = result.workflows.get(name);
  if (plan === undefined)
    throw new UsageError(`${positionals[0]} holds no workflow "${name}" (it holds ${names.join(", ")})`);
  stdout(renderGraph(plan, format));
  return EXIT.ok;
}
