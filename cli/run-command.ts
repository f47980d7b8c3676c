import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { didYouMean } from "../compiler/suggest.ts";
import { ExecutionError } from "../engine/errors.ts";
import { InputRejected } from "../engine/runner.ts";
import { definitionsDir, loadDefinitions, startEngine } from "./setup.ts";
import { EXIT, UsageError } from "./usage.ts";

/**
 * `pflow run NAME`: runs a workflow in this process on the configured store
 * (the embedded SQLite one by default) and prints the finished run as JSON.
 * Exit 0 if it succeeded, 1 if it failed or timed out, 2 for a usage or
 * definition error (an input the workflow refuses included).
 */
export async function runCommand(
  args: string[],
  stdout: (text: string) => void,
  stderr: (text: string) => void = () => {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: "string" },
      "input-file": { type: "string" },
      definitions: { type: "string" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("pflow run takes one workflow NAME");
  if (values.input !== undefined && values["input-file"] !== undefined) {
    throw new UsageError("give the input with --input or --input-file, not both");
  }
  const input = await readInput(values.input, values["input-file"]);
  const definitions = await loadDefinitions(definitionsDir(values.definitions));
  const name = positionals[0] as string;
  const { engine, close } = await startEngine(definitions, {
    onRegistered: (line) => stderr(`pflow: ${line}\n`),
    // The store's registry is what runs (setup.ts): the directory's workflows, and any registered before.
    beforeStart: async (started) => {
      if (definitions.workflows.has(name)) return;
      const registered = (await started.services.store.listDefinitions("Workflow")).map((r) => r.name);
      if (registered.includes(name)) return;
      throw new UsageError(
        `no workflow "${name}" in the definitions or the store${didYouMean(name, registered)} (there are: ${registered.join(", ")})`,
      );
    },
  });
  const interrupted = () => {
    close().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  try {
    const started = await engine.startRun({ workflow: name, input });
    const run = await engine.waitForRun(started.id, Number.POSITIVE_INFINITY);
    stdout(`${JSON.stringify(await engine.runJson(started.id), null, 2)}\n`);
    return run?.status === "succeeded" ? EXIT.ok : EXIT.failed;
  } catch (error) {
    if (error instanceof InputRejected) throw new UsageError(error.message);
    if (error instanceof ExecutionError && !error.retryable) throw new UsageError(error.message);
    throw error;
  } finally {
    process.off("SIGINT", interrupted);
    await close();
  }
}

async function readInput(inline: string | undefined, file: string | undefined): Promise<unknown> {
  const text =
    inline ??
    (file === undefined
      ? undefined
      : await readFile(file, "utf8").catch((error: Error) => {
          throw new UsageError(`--input-file ${file}: ${error.message}`);
        }));
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`the input is not JSON: ${(error as Error).message}`);
  }
}
