import { existsSync } from "node:fs";

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The folder of the committed definitions (Workflow, Model and WorkflowTest
 * YAML), relative to the working directory: what serve, run, worker, validate,
 * test and apply read when given no folder.
 */
export const DEFAULT_DEFINITIONS_DIR = "definitions";

/**
 * The definitions folder when none is given: $PFLOW_DEFINITIONS, else
 * ./definitions if it exists; undefined when neither (each command says what
 * it falls back to: serve and run the bundled examples, validate and test `.`).
 */
export function defaultDefinitionsDir(env: Environment = process.env): string | undefined {
  if (env.PFLOW_DEFINITIONS) return env.PFLOW_DEFINITIONS;
  return existsSync(DEFAULT_DEFINITIONS_DIR) ? DEFAULT_DEFINITIONS_DIR : undefined;
}
