import type { Logger } from "pino";
import type { Broker } from "./broker/broker.ts";
import type { Catalog } from "./catalog.ts";
import type { Doubles } from "./executors/doubles.ts";
import type { ModelCallRecorder } from "./model-call-recorder.ts";
import type { EngineObserver } from "./observer.ts";
import type { PreprocessRegistry } from "./preprocess/registry.ts";
import type { Providers } from "./providers/registry.ts";
import type { ResultCache } from "./result-cache.ts";
import type { Store } from "./store/store.ts";
import type { EvaluateOptions } from "./template-eval.ts";
import type { EventBus } from "./triggers/event-bus.ts";
import type { TriggerTiming } from "./triggers/triggers.ts";
import type { UserSchemas } from "./user-schemas.ts";

/**
 * What the engine works with, resolved once at the edge (cli/) and injected:
 * the engine never picks an adapter or reads configuration itself.
 */
export interface EngineConfig {
  /** A worker's lease on an execution; renewed while the attempt runs. */
  readonly leaseMs: number;
  /** Deliveries a worker process handles at once. */
  readonly concurrency: number;
  /** How often the sweeper looks for expired leases, lost deliveries and overdue runs. */
  readonly sweepIntervalMs: number;
  /** A queued execution untouched this long may have lost its delivery. */
  readonly strandedAfterMs: number;
  /** Deliveries of a task, and lost leases of an execution, before it is dead-lettered. */
  readonly maxDeliveries: number;
  /** On stop, how long work in hand may take to finish before it is released to other workers. */
  readonly shutdownGraceMs: number;
  /** Limits of every expression evaluation. */
  readonly expressions: EvaluateOptions;
  /** How often canaries with autoRollback are judged (canary-analysis.ts). */
  readonly canaryAnalysisIntervalMs: number;
  /** Run history events older than this are deleted (PFLOW_HISTORY_RETENTION). */
  readonly historyRetentionMs: number;
  /** Timing of cron triggers and the names of event queues (engine/triggers/triggers.ts); defaults apply. */
  readonly triggers?: Partial<TriggerTiming>;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = Object.freeze({
  leaseMs: 30_000,
  concurrency: 16,
  sweepIntervalMs: 1_000,
  strandedAfterMs: 30_000,
  maxDeliveries: 5,
  shutdownGraceMs: 20_000,
  expressions: Object.freeze({}),
  canaryAnalysisIntervalMs: 15_000,
  historyRetentionMs: 30 * 86_400_000,
});

export interface EngineServices {
  readonly store: Store;
  readonly broker: Broker;
  readonly catalog: Catalog;
  readonly providers: Providers;
  readonly ops: PreprocessRegistry;
  readonly cache: ResultCache;
  readonly schemas: UserSchemas;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly config: EngineConfig;
  readonly observer: EngineObserver;
  /** This process's model calls, counted and added to the Store's statistics. */
  readonly calls: ModelCallRecorder;
  /** Where event triggers' messages come from; absent: an in-process bus (engine/triggers). */
  readonly events?: EventBus;
  /** Stand-ins for nodes and models: set by `pflow test` only (executors/doubles.ts). */
  readonly doubles?: Doubles;
}
