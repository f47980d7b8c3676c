import { join } from "node:path";
import type { Logger } from "pino";
import { collectDefinitionFiles, type DefinitionSet, validateDefinitions } from "../compiler/index.ts";
import { createEngine } from "../engine/create.ts";
import type { EngineObserver } from "../engine/observer.ts";
import { defaultDefinitionsDir, engineSettings, processLogger } from "./environment.ts";
import { formatFindings } from "./findings-format.ts";
import { startTracing } from "./tracing.ts";
import { UsageError } from "./usage.ts";

/**
 * What `pflow run`, `pflow worker` and `pflow serve` share: configuration from
 * flags over environment over defaults, the definitions loaded and validated
 * (refusing to start on any error), and the engine built on the configured
 * adapters with the definitions registered.
 */
export const BUNDLED_EXAMPLES = join(import.meta.dirname, "..", "examples");

/** --definitions, else PFLOW_DEFINITIONS, else ./definitions if it exists, else the bundled examples. */
export function definitionsDir(flag: string | undefined): string {
  return flag ?? defaultDefinitionsDir() ?? BUNDLED_EXAMPLES;
}

export async function loadDefinitions(dir: string): Promise<DefinitionSet> {
  const { files } = await collectDefinitionFiles([dir]);
  const set = validateDefinitions(files);
  if (!set.valid) {
    throw new UsageError(
      `the definitions in ${dir} are not valid:\n${formatFindings(set.files, "text").trimEnd()}`,
    );
  }
  return set;
}

export async function startEngine(
  definitions: DefinitionSet,
  options: { workers?: boolean; triggers?: boolean; observer?: EngineObserver; logger?: Logger } = {},
) {
  const stopTracing = startTracing();
  const created = await createEngine({
    ...engineSettings(),
    ...(options.observer ? { observer: options.observer } : {}),
    logger: options.logger ?? processLogger("stderr"),
  });
  // Registered by the process itself, from its definitions directory: "startup" in the history.
  await created.engine.services.catalog.register(definitions, Date.now(), "startup");
  await created.engine.start({ recoverAllLeases: created.embedded, workers: options.workers ?? true });
  // Cron schedules and event queues run where work runs: serve with workers, and worker.
  if (options.triggers) await created.engine.triggers.start({ fire: options.workers ?? true });
  return {
    ...created,
    close: async () => {
      await created.close();
      await stopTracing();
    },
  };
}
