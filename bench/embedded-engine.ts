import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type SourceFile, validateDefinitions } from "../compiler/index.ts";
import { createEngine } from "../engine/create.ts";
import type { Engine } from "../engine/engine.ts";
import type { EngineObserver } from "../engine/observer.ts";
import type { EngineConfig } from "../engine/services.ts";
import { buildServer } from "../server/app.ts";
import { parseApiKeys } from "../server/auth.ts";
import { createMetrics } from "../server/metrics.ts";
import { allRoutes } from "../server/routes/index.ts";

/**
 * The benchmarks' engine: the embedded default (a SQLite file in WAL mode in a
 * fresh temporary directory, the in-process broker), silent, with `files`
 * validated, registered and started on. `beforeStart` sees it first (to wrap
 * its store, say); `onStore` is told the SQLite file's path.
 */
export async function embeddedEngine(
  files: readonly SourceFile[],
  options: {
    observer?: EngineObserver;
    beforeStart?: (engine: Engine) => void;
    onStore?: (path: string) => void;
    /** Engine settings over the defaults (the workers' concurrency, say). */
    config?: Partial<EngineConfig>;
  } = {},
): Promise<{ engine: Engine; close: () => Promise<void> }> {
  const set = validateDefinitions([...files]);
  if (!set.valid) throw new Error(JSON.stringify(set.files.flatMap((f) => f.errors).slice(0, 3)));
  const dir = mkdtempSync(join(tmpdir(), "pflow-bench-"));
  options.onStore?.(join(dir, "pflow.db"));
  const { engine, close } = await createEngine({
    storeUrl: `sqlite:${join(dir, "pflow.db")}`,
    brokerUrl: "memory:",
    logger: pino({ level: "silent" }),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.config ? { config: options.config } : {}),
  });
  options.beforeStart?.(engine);
  await engine.services.catalog.register(set, Date.now());
  await engine.start({ recoverAllLeases: true });
  return {
    engine,
    close: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The API on that engine, as `pflow serve` runs it (metrics observer and every
 * route), listening on a free loopback port, its rate limit lifted (it would
 * answer 429 to most of a benchmark's load). `keys` as PFLOW_API_KEYS; none:
 * no authentication.
 */
export async function embeddedApi(
  files: readonly SourceFile[],
  options: { keys?: string; beforeStart?: (engine: Engine) => void } = {},
): Promise<{ engine: Engine; base: string; close: () => Promise<void> }> {
  const metrics = createMetrics();
  const { engine, close } = await embeddedEngine(files, { ...options, observer: metrics.observer });
  const app = await buildServer({
    engine,
    logger: pino({ level: "silent" }),
    apiKeys: parseApiKeys(options.keys ?? ""),
    routes: allRoutes(metrics),
    rateLimit: { max: Number.MAX_SAFE_INTEGER, windowMs: 60_000 },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    engine,
    base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: async () => {
      await app.close();
      await close();
    },
  };
}
