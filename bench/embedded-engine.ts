import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type SourceFile, validateDefinitions } from "../definitions/index.ts";
import { createEngine } from "../engine/create.ts";
import type { Engine } from "../engine/engine.ts";

/**
 * The benchmarks' engine: the embedded default (a SQLite file in WAL mode in a
 * fresh temporary directory, the in-process broker), silent, with `files`
 * validated, registered and started on.
 */
export async function embeddedEngine(
  files: readonly SourceFile[],
): Promise<{ engine: Engine; close: () => Promise<void> }> {
  const set = validateDefinitions([...files]);
  if (!set.valid) throw new Error(JSON.stringify(set.files.flatMap((f) => f.errors).slice(0, 3)));
  const dir = mkdtempSync(join(tmpdir(), "pflow-bench-"));
  const { engine, close } = await createEngine({
    storeUrl: `sqlite:${join(dir, "pflow.db")}`,
    brokerUrl: "memory:",
    logger: pino({ level: "silent" }),
  });
  await engine.services.catalog.register(set, Date.now());
  await engine.start({ recoverAllLeases: true });
  return { engine, close };
}
