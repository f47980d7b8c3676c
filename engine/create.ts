import pino, { type Logger } from "pino";
import type { Broker, DeadLetterHandler } from "./broker/broker.ts";
import { MemoryBroker } from "./broker/memory/memory-broker.ts";
import { Catalog } from "./catalog.ts";
import { Engine } from "./engine.ts";
import { type EngineObserver, NO_OBSERVER } from "./observer.ts";
import { builtInOps } from "./preprocess/registry.ts";
import { EgressPolicy } from "./providers/egress.ts";
import { environmentSecrets } from "./providers/provider.ts";
import { createProviders } from "./providers/registry.ts";
import { ResultCache } from "./result-cache.ts";
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "./services.ts";
import { SqliteStore } from "./store/sqlite/sqlite-store.ts";
import type { Store } from "./store/store.ts";
import { UserSchemas } from "./user-schemas.ts";

/**
 * Builds an engine from configuration URLs, at the edge (cli/, tests): the one
 * place that knows which adapters exist.
 * - store: `sqlite:PATH` (embedded; `sqlite::memory:` for tests)
 * - broker: `memory:` (in-process)
 */
export interface EngineOptions {
  readonly storeUrl: string;
  readonly brokerUrl: string;
  readonly logger?: Logger;
  readonly config?: Partial<EngineConfig>;
  readonly clock?: () => number;
  readonly egress?: EgressPolicy;
  readonly fetch?: typeof fetch;
  readonly observer?: EngineObserver;
}

export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

export async function createEngine(
  options: EngineOptions,
): Promise<{ engine: Engine; close(): Promise<void>; embedded: boolean }> {
  const logger =
    options.logger ?? pino({ level: process.env.PFLOW_LOG_LEVEL ?? "info" }, pino.destination(2));
  const store = storeFor(options.storeUrl);
  let engine: Engine | undefined;
  const onDeadLetter: DeadLetterHandler = (task, reason, deliveries) =>
    engine ? engine.deadLetter(task, reason, deliveries) : Promise.resolve();
  const broker = brokerFor(options.brokerUrl, onDeadLetter);
  await store.start();
  await broker.start();
  const config = { ...DEFAULT_ENGINE_CONFIG, ...options.config };
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
    schemas: new UserSchemas(),
    logger,
    clock: options.clock ?? Date.now,
    config,
    observer: options.observer ?? NO_OBSERVER,
  });
  const close = async () => {
    await engine?.stop();
    await broker.close();
    await store.close();
  };
  return { engine, close, embedded: store instanceof SqliteStore };
}

function storeFor(url: string): Store {
  if (url.startsWith("sqlite:")) return new SqliteStore(url.slice("sqlite:".length) || ":memory:");
  throw new ConfigurationError(
    `unsupported store URL "${url}": use sqlite:PATH (mongodb:// arrives with the production backends)`,
  );
}

function brokerFor(url: string, onDeadLetter: DeadLetterHandler): Broker {
  if (url === "memory:" || url === "memory") return new MemoryBroker({ maxDeliveries: 5, onDeadLetter });
  throw new ConfigurationError(
    `unsupported broker URL "${url}": use memory: (amqp:// arrives with the production backends)`,
  );
}
