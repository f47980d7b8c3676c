import pino, { type Logger } from "pino";
import { parseDuration } from "../compiler/index.ts";
import { parseQueueRoutes } from "../engine/broker/amqp/topology.ts";
import type { BrokerSettings, EngineOptions } from "../engine/create.ts";
import { UsageError } from "./usage.ts";

// The definitions folder is in a module of its own: `pflow validate` needs it, and none of this file's imports.
export { DEFAULT_DEFINITIONS_DIR, defaultDefinitionsDir } from "./definitions-dir.ts";

/**
 * The engine's settings from the environment (docs/operations.md lists them),
 * checked here so a typo stops the process at start with the variable's name,
 * not at the first run.
 */
type Environment = Readonly<Record<string, string | undefined>>;
type NumericSetting =
  | "concurrency"
  | "leaseMs"
  | "sweepIntervalMs"
  | "strandedAfterMs"
  | "shutdownGraceMs"
  | "canaryAnalysisIntervalMs";

export function engineSettings(
  env: Environment = process.env,
): Pick<EngineOptions, "storeUrl" | "brokerUrl" | "broker" | "config"> {
  const config: { -readonly [K in NumericSetting | "historyRetentionMs"]?: number } = {};
  const number = (name: string, key: NumericSetting, min: number) => {
    const value = positiveInteger(env, name, min);
    if (value !== undefined) config[key] = value;
  };
  number("PFLOW_WORKER_CONCURRENCY", "concurrency", 1);
  number("PFLOW_LEASE_MS", "leaseMs", 1000);
  number("PFLOW_SWEEP_INTERVAL_MS", "sweepIntervalMs", 100);
  number("PFLOW_STRANDED_AFTER_MS", "strandedAfterMs", 1000);
  number("PFLOW_SHUTDOWN_GRACE_MS", "shutdownGraceMs", 0);
  number("PFLOW_CANARY_ANALYSIS_INTERVAL_MS", "canaryAnalysisIntervalMs", 1000);
  const retention = env.PFLOW_HISTORY_RETENTION;
  if (retention !== undefined && retention !== "") {
    const ms = parseDuration(retention);
    if (ms === undefined || ms < 60_000)
      throw new UsageError(
        `PFLOW_HISTORY_RETENTION must be a duration of at least 1m (e.g. 30d, 12h), not "${retention}"`,
      );
    config.historyRetentionMs = ms;
  }

  const broker: { -readonly [K in keyof BrokerSettings]: BrokerSettings[K] } = {};
  const maxDeliveries = positiveInteger(env, "PFLOW_MAX_DELIVERIES", 1);
  if (maxDeliveries !== undefined) broker.maxDeliveries = maxDeliveries;
  try {
    if (env.PFLOW_BROKER_QUEUES) broker.queues = parseQueueRoutes(env.PFLOW_BROKER_QUEUES);
  } catch (error) {
    throw new UsageError(
      `PFLOW_BROKER_QUEUES: ${(error as Error).message} (e.g. "gpu=model.llama-*;default=*")`,
    );
  }
  if (env.PFLOW_WORKER_QUEUES)
    broker.consumeFrom = env.PFLOW_WORKER_QUEUES.split(",")
      .map((each) => each.trim())
      .filter(Boolean);
  if (env.PFLOW_BROKER_PREFIX) broker.prefix = env.PFLOW_BROKER_PREFIX;

  return {
    storeUrl: env.PFLOW_STORE_URL ?? "sqlite:./.pflow/pflow.db",
    brokerUrl: env.PFLOW_BROKER_URL ?? "memory:",
    broker,
    config,
  };
}

const LOG_LEVELS: readonly string[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * The process's logger, at PFLOW_LOG_LEVEL (default info): JSON lines to
 * stdout, or to stderr for commands whose stdout is their output.
 */
export function processLogger(to: "stdout" | "stderr", env: Environment = process.env): Logger {
  const level = env.PFLOW_LOG_LEVEL || "info";
  if (!LOG_LEVELS.includes(level))
    throw new UsageError(`PFLOW_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, not "${level}"`);
  return pino({ level }, pino.destination(to === "stdout" ? 1 : 2));
}

/** An integer setting of at least `min`, or undefined when unset; anything else stops the process, naming it. */
export function positiveInteger(env: Environment, name: string, min: number): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new UsageError(`${name} must be an integer ≥ ${min}, not "${text}"`);
  return value;
}
