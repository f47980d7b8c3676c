import { parseArgs } from "node:util";
import { buildServer } from "../server/app.ts";
import { createMetrics } from "../server/metrics.ts";
import { opsRoutes } from "../server/routes/ops.ts";
import { processLogger } from "./environment.ts";
import { listenAddress } from "./listen.ts";
import { definitionsDir, loadDefinitions, startEngine } from "./setup.ts";
import { untilSignalled } from "./signals.ts";
import { EXIT, UsageError } from "./usage.ts";

/**
 * `pflow worker`: workers and the sweeper only, until SIGTERM or SIGINT, then a
 * graceful stop (work in hand finishes or is released, nothing new is taken).
 * On the embedded store it also resumes the runs a previous process left
 * unfinished. With --port (or PFLOW_WORKER_PORT) it serves /healthz, /readyz
 * and /metrics there, for probes and Prometheus: public endpoints only, no
 * API, so no API keys are needed to listen beyond loopback.
 */
export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { definitions: { type: "string" }, port: { type: "string" }, host: { type: "string" } },
  });
  const address = listenAddress(values, "PFLOW_WORKER_PORT", null);
  const logger = processLogger("stderr");
  const definitions = await loadDefinitions(definitionsDir(values.definitions));
  const metrics = createMetrics();
  const { engine, close } = await startEngine(definitions, {
    observer: metrics.observer,
    logger,
    onRegistered: (line) => logger.info(line),
    triggers: true,
  });
  const app = address
    ? await buildServer({ engine, logger, apiKeys: [], routes: [opsRoutes(metrics)] })
    : null;
  if (app && address) {
    try {
      await app.listen(address);
    } catch (error) {
      await close();
      throw new UsageError(`cannot listen on ${address.host}:${address.port}: ${(error as Error).message}`);
    }
  }
  logger.info("worker started");
  const reason = await untilSignalled();
  logger.info({ reason }, "worker stopping");
  await app?.close();
  await close();
  return EXIT.ok;
}
