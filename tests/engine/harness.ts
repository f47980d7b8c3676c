import pino from "pino";
import { validateDefinitions } from "../../compiler/index.ts";
import { createEngine } from "../../engine/create.ts";
import type { Engine } from "../../engine/engine.ts";
import type { EngineObserver } from "../../engine/observer.ts";
import { EgressPolicy } from "../../engine/providers/egress.ts";
import type { RunJson } from "../../engine/run-view.ts";
import type { EngineConfig } from "../../engine/services.ts";

/**
 * An engine on the embedded adapters (SQLite in memory, in-process broker) with
 * definitions given as YAML text, fast timers, and loopback allowed for test
 * servers. Real adapters, real executors: only time is shortened.
 */
export interface Harness {
  readonly engine: Engine;
  /** Starts a run and waits for it to finish; the run as `pflow run` prints it. */
  run(workflow: string, input?: unknown): Promise<RunJson>;
  close(): Promise<void>;
}

export async function harness(
  yamlDocuments: string | readonly string[],
  options: {
    storeUrl?: string;
    config?: Partial<EngineConfig>;
    start?: boolean;
    clock?: () => number;
    observer?: EngineObserver;
  } = {},
): Promise<Harness> {
  const texts = typeof yamlDocuments === "string" ? [yamlDocuments] : yamlDocuments;
  const set = validateDefinitions(texts.map((text, i) => ({ path: `def-${i}.yaml`, text })));
  if (!set.valid)
    throw new Error(
      JSON.stringify(
        set.files.flatMap((f) => f.errors),
        null,
        2,
      ),
    );
  const { engine, close } = await createEngine({
    storeUrl: options.storeUrl ?? "sqlite::memory:",
    brokerUrl: "memory:",
    logger: pino({ level: "silent" }),
    egress: new EgressPolicy({ allowLoopback: true }),
    config: { sweepIntervalMs: 25, leaseMs: 2_000, strandedAfterMs: 500, ...options.config },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  });
  await engine.services.catalog.register(set, engine.services.clock());
  if (options.start ?? true) await engine.start({ recoverAllLeases: true });
  return {
    engine,
    async run(workflow, input = {}) {
      const started = await engine.startRun({ workflow, input });
      await engine.waitForRun(started.id, 20_000);
      return (await engine.runJson(started.id)) as RunJson;
    },
    close,
  };
}

/** A Workflow document from its nodes (YAML, indented as under `nodes:`) and extra spec lines. */
export function workflow(name: string, nodes: string, spec = ""): string {
  return `apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: ${name} }\nspec:\n${spec}  nodes:\n${nodes}`;
}

/** A Model document with mock versions: { "1": "{ text: 'x' }", … }. */
export function mockModel(name: string, versions: Record<string, string>, extra = ""): string {
  const lines = Object.entries(versions).map(([key, body]) => `    "${key}": { provider: mock, ${body} }`);
  return `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: ${name} }\nspec:\n${extra}  versions:\n${lines.join("\n")}\n`;
}
