import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { buildServer, type ServerOptions } from "../server/app.ts";
import { ApiKeyError, parseApiKeys } from "../server/auth.ts";
import { createMetrics } from "../server/metrics.ts";
import { allRoutes } from "../server/routes/index.ts";
import { positiveInteger, processLogger } from "./environment.ts";
import { listenAddress } from "./listen.ts";
import { definitionsDir, loadDefinitions, startEngine } from "./setup.ts";
import { untilSignalled } from "./signals.ts";
import { EXIT, UsageError } from "./usage.ts";

/**
 * `pflow serve`: the API and workers in one process, on the configured store
 * and broker (the embedded ones by default); `--no-workers` for an API tier
 * scaled apart from `pflow worker` processes. Without API keys it listens on
 * loopback only; asked to listen elsewhere without keys, it refuses to start
 * and says how to configure them. SIGTERM/SIGINT stop it gracefully: no new
 * requests, requests and node work in hand finish, then the ports close.
 */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      definitions: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      workers: { type: "boolean", default: true },
    },
    allowNegative: true,
  });
  const { host, port } = listenAddress(values, "PFLOW_PORT", 8080) as { host: string; port: number };
  let apiKeys: ReturnType<typeof parseApiKeys>;
  try {
    apiKeys = parseApiKeys(process.env.PFLOW_API_KEYS);
  } catch (error) {
    if (error instanceof ApiKeyError) throw new UsageError(`PFLOW_API_KEYS: ${error.message}`);
    throw error;
  }
  if (apiKeys.length === 0 && !isLoopback(host)) {
    throw new UsageError(
      `refusing to serve on ${host} without API keys: anyone who can reach it could run workflows.\n` +
        "Set PFLOW_API_KEYS='<key of 16+ characters>:runs:write,runs:read;<admin key>:admin' (see docs/api.md), " +
        "or listen on 127.0.0.1.",
    );
  }
  const logger = processLogger("stdout");
  const dir = definitionsDir(values.definitions);
  const definitions = await loadDefinitions(dir);
  const metrics = createMetrics();
  const { engine, close } = await startEngine(definitions, {
    observer: metrics.observer,
    logger,
    onRegistered: (line) => logger.info(line),
    workers: values.workers,
    triggers: true,
  });
  const app = await buildServer({
    engine,
    logger,
    apiKeys,
    routes: allRoutes(metrics),
    rateLimit: { max: requestsPerMinute(process.env.PFLOW_RATE_LIMIT), windowMs: 60_000 },
    ...serverLimits(process.env),
  });
  try {
    await app.listen({ host, port });
  } catch (error) {
    await close();
    throw new UsageError(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  const earlier = (await engine.services.store.listDefinitions("Workflow"))
    .map((record) => record.name)
    .filter((name) => !definitions.workflows.has(name));
  if (earlier.length > 0)
    logger.info(`also serving workflows registered earlier, not in ${dir}: ${earlier.join(", ")}`);
  if (apiKeys.length === 0) logger.warn(`no API keys configured: serving on ${host} (loopback) only`);
  const reason = await untilSignalled();
  logger.info({ reason }, "shutting down: finishing requests and node work in hand");
  await app.close();
  await close();
  return EXIT.ok;
}

/** PFLOW_RATE_LIMIT: requests per minute per API key (or client address without keys). */
function requestsPerMinute(text: string | undefined): number {
  if (text === undefined || text === "") return 600;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`PFLOW_RATE_LIMIT must be a whole number of requests per minute, not "${text}"`);
  return value;
}

/** PFLOW_REQUEST_TIMEOUT_MS, PFLOW_VALIDATION_TIMEOUT_MS, PFLOW_VALIDATION_THREADS (docs/operations.md). */
function serverLimits(env: NodeJS.ProcessEnv): Pick<ServerOptions, "requestTimeoutMs" | "validation"> {
  const setting = (name: string, min: number) => positiveInteger(env, name, min);
  const requestTimeoutMs = setting("PFLOW_REQUEST_TIMEOUT_MS", 1000);
  const timeoutMs = setting("PFLOW_VALIDATION_TIMEOUT_MS", 100);
  const threads = setting("PFLOW_VALIDATION_THREADS", 1);
  return {
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
    validation: {
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(threads === undefined ? {} : { threads }),
    },
  };
}

/** Loopback addresses, and localhost. */
export function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}
