import pino, { type Logger } from "pino";
import { AmqpBroker } from "./broker/amqp/amqp-broker.ts";
import type { QueueRoute } from "./broker/amqp/topology.ts";
import type { Broker, DeadLetterHandler } from "./broker/broker.ts";
import { MemoryBroker } from "./broker/memory/memory-broker.ts";
import { Catalog } from "./catalog.ts";
import { Engine } from "./engine.ts";
import type { Doubles } from "./executors/doubles.ts";
import { ModelCallRecorder } from "./model-call-recorder.ts";
import { type EngineObserver, NO_OBSERVER } from "./observer.ts";
import { regionsOf } from "./preprocess/pii/regions.ts";
import { builtInOps } from "./preprocess/registry.ts";
import { EgressPolicy } from "./providers/egress.ts";
import { environmentSecrets } from "./providers/provider.ts";
import { createProviders } from "./providers/registry.ts";
import { ResultCache } from "./result-cache.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "./services.ts";
import { MongoStore } from "./store/mongo/mongo-store.ts";
import { SqliteStore } from "./store/sqlite/sqlite-store.ts";
import type { Store } from "./store/store.ts";
import { AmqpEventBus } from "./triggers/amqp-event-bus.ts";
import type { EventBus } from "./triggers/event-bus.ts";
import { MemoryEventBus } from "./triggers/memory-event-bus.ts";
import { UserSchemas } from "./user-schemas.ts";

/**
 * Builds an engine from configuration URLs, at the edge (cli/, tests): the one
 * place that knows which adapters exist.
 * - store: `sqlite:PATH` (embedded; `sqlite::memory:` for tests), or
 *   `mongodb://…` / `mongodb+srv://…` (production)
 * - broker: `memory:` (in-process), or `amqp://…` / `amqps://…` (RabbitMQ)
 */
export interface EngineOptions {
  readonly storeUrl: string;
  readonly brokerUrl: string;
  /** RabbitMQ only: worker pools, the pools this process consumes, and names. */
  readonly broker?: BrokerSettings;
  readonly logger?: Logger;
  readonly config?: Partial<EngineConfig>;
  readonly clock?: () => number;
  readonly egress?: EgressPolicy;
  readonly fetch?: typeof fetch;
  readonly observer?: EngineObserver;
  /** Stand-ins for nodes and models (`pflow test` only): see executors/doubles.ts. */
  readonly doubles?: Doubles;
  /** Compiled user schemas, shared by engines of one process (`pflow test`'s one per case); default: the engine's own. */
  readonly schemas?: UserSchemas;
}

export interface BrokerSettings {
  /** Deliveries of a task before it is dead-lettered (default 5). */
  readonly maxDeliveries?: number;
  readonly queues?: readonly QueueRoute[];
  readonly consumeFrom?: readonly string[];
  readonly prefix?: string;
}

export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

/** A PFLOW_PII_REGIONS that names no region stops the process at start, not the first redact_pii run. */
function piiRegionsFromEnvironment(): void {
  try {
    regionsOf(undefined);
  } catch (error) {
    throw new ConfigurationError((error as Error).message);
  }
}

/** A configured store or broker did not answer at start (after its retries). */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
}

export async function createEngine(
  options: EngineOptions,
): Promise<{ engine: Engine; close(): Promise<void>; embedded: boolean }> {
  // The engine reads no settings of its own: a process passes its logger (cli/environment.ts).
  const logger = options.logger ?? pino({ level: "info" }, pino.destination(2));
  piiRegionsFromEnvironment();
  const store = storeFor(
    options.storeUrl,
    options.config?.historyRetentionMs ?? DEFAULT_ENGINE_CONFIG.historyRetentionMs,
  );
  let engine: Engine | undefined;
  let started: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => {
    started = resolve;
  });
  // A dead letter drained before the engine exists waits for it (RabbitMQ hands them over at once).
  const onDeadLetter: DeadLetterHandler = async (task, reason, deliveries) => {
    await ready;
    await engine?.deadLetter(task, reason, deliveries);
  };
  const config = { ...DEFAULT_ENGINE_CONFIG, ...options.config };
  if (options.broker?.maxDeliveries !== undefined) config.maxDeliveries = options.broker.maxDeliveries;
  const broker = brokerFor(options.brokerUrl, onDeadLetter, logger, {
    ...options.broker,
    maxDeliveries: config.maxDeliveries,
  });
  try {
    await store.start();
  } catch (error) {
    await store.close().catch(() => {});
    throw new UnreachableError(
      `cannot reach the store at ${redactUrl(options.storeUrl)}: ${(error as Error).message}`,
    );
  }
  try {
    await broker.start();
  } catch (error) {
    await Promise.all([broker.close().catch(() => {}), store.close()]);
    throw new UnreachableError(
      `cannot reach the broker at ${redactUrl(options.brokerUrl)}: ${(error as Error).message}`,
    );
  }
  const events = eventBusFor(options.brokerUrl, logger);
  try {
    await events.start();
  } catch (error) {
    await Promise.all([events.close().catch(() => {}), broker.close(), store.close()]);
    throw new UnreachableError(
      `cannot reach the broker at ${redactUrl(options.brokerUrl)} for event triggers: ${(error as Error).message}`,
    );
  }
  if (options.broker?.prefix) config.triggers = { ...config.triggers, queuePrefix: options.broker.prefix };
  engine = new Engine({
    store,
    broker,
    catalog: new Catalog(store),
    providers: createProviders({
      secrets: environmentSecrets,
      egress: options.egress ?? EgressPolicy.fromEnvironment(),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      expressions: config.expressions,
    }),
    ops: builtInOps(),
    cache: new ResultCache(store),
    schemas: options.schemas ?? new UserSchemas(),
    logger,
    clock: options.clock ?? Date.now,
    config,
    observer: options.observer ?? NO_OBSERVER,
    calls: new ModelCallRecorder(store, logger),
    events,
    ...(options.doubles ? { doubles: options.doubles } : {}),
  });
  started?.();
  const close = async () => {
    await engine?.stop();
    await events.close();
    await broker.close();
    await store.close();
  };
  return { engine, close, embedded: store instanceof SqliteStore };
}

/** Event triggers come through RabbitMQ with a RabbitMQ broker, else through the in-process bus. */
function eventBusFor(url: string, logger: Logger): EventBus {
  return /^amqps?:\/\//.test(url) ? new AmqpEventBus({ url, logger }) : new MemoryEventBus();
}

function storeFor(url: string, historyRetentionMs: number): Store {
  if (url.startsWith("sqlite:")) return new SqliteStore(url.slice("sqlite:".length) || ":memory:");
  if (/^mongodb(\+srv)?:\/\//.test(url)) return new MongoStore(url, { historyRetentionMs });
  throw new ConfigurationError(
    `unsupported store URL "${redactUrl(url)}": use sqlite:PATH or mongodb://HOST/DATABASE`,
  );
}

function brokerFor(
  url: string,
  onDeadLetter: DeadLetterHandler,
  logger: Logger,
  settings: BrokerSettings,
): Broker {
  const maxDeliveries = settings.maxDeliveries ?? 5;
  if (url === "memory:" || url === "memory") return new MemoryBroker({ maxDeliveries, onDeadLetter });
  if (/^amqps?:\/\//.test(url)) {
    return new AmqpBroker({
      url,
      maxDeliveries,
      onDeadLetter,
      logger,
      ...(settings.queues ? { queues: settings.queues } : {}),
      ...(settings.consumeFrom ? { consumeFrom: settings.consumeFrom } : {}),
      ...(settings.prefix ? { prefix: settings.prefix } : {}),
    });
  }
  throw new ConfigurationError(`unsupported broker URL "${redactUrl(url)}": use memory: or amqp://HOST`);
}

/** A URL fit for a message or a log line: its password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
  }
}
