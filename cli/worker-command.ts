import { parseArgs } from "node:util";
import { definitionsDir, loadDefinitions, startEngine } from "./setup.ts";
import { EXIT } from "./usage.ts";

/**
 * `pflow worker`: workers and the sweeper only, until SIGTERM or SIGINT, then a
 * graceful stop (work in hand finishes, nothing new is taken). On the embedded
 * store it also resumes the runs a previous process left unfinished.
 */
export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { definitions: { type: "string" } } });
  const definitions = await loadDefinitions(definitionsDir(values.definitions));
  const { engine, close } = await startEngine(definitions);
  engine.services.logger.info("worker started");
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  engine.services.logger.info("worker stopping");
  await close();
  return EXIT.ok;
}
