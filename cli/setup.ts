import { join } from "node:path";
import type { Logger } from "pino";
import { collectDefinitionFiles, type DefinitionSet, validateDefinitions } from "../compiler/index.ts";
import { createEngine } from "../engine/create.ts";
import type { Engine } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import { defaultDefinitionsDir, engineSettings, processLogger } from "./environment.ts";
import { formatFindings } from "./findings-format.ts";
import { registrationLines } from "./registration.ts";
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

export interface StartOptions {
  workers?: boolean;
  /** Start the triggers (cron schedules, event queues) too: serve with workers, and worker. */
  triggers?: boolean;
  observer?: EngineObserver;
  logger?: Logger;
  /** Told each new version the start registered (registration.ts), as a line of text. */
  onRegistered?: (line: string) => void;
  /** Run after registering, before the workers start: a check that may refuse (and stops the engine). */
  beforeStart?: (engine: Engine) => Promise<void>;
}

/**
 * The one rule for what a process sees (docs/decisions.md): the store's
 * registry. It first registers its definitions directory there (a new version
 * only where the content changed, each one said), then sees every workflow and
 * model the store holds, those registered earlier from another directory or
 * through the API included. Nothing is ever removed by starting a process.
 */
export async function startEngine(definitions: DefinitionSet, options: StartOptions = {}) {
  const stopTracing = startTracing();
  const created = await createEngine({
    ...engineSettings(),
    ...(options.observer ? { observer: options.observer } : {}),
    logger: options.logger ?? processLogger("stderr"),
  });
  try {
    // Registered by the process itself, from its definitions directory: "startup" in the history.
    const registered = await created.engine.services.catalog.register(definitions, Date.now(), "startup");
    for (const line of registrationLines(registered)) options.onRegistered?.(line);
    await options.beforeStart?.(created.engine);
  } catch (error) {
    await created.close();
    await stopTracing();
    throw error;
  }
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
