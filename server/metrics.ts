import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CanaryReport } from "../engine/canary-analysis.ts";
import type { EngineObserver, NodeFinished, TriggerEvent } from "../engine/observer.ts";
import type { RunRecord } from "../engine/store/records.ts";

/**
 * Prometheus metrics of one process: its own registry (so tests and several
 * servers in one process never share counters), Node's default metrics, and the
 * engine's, fed by an EngineObserver.
 *
 * Labels are bounded on purpose: workflow names, node types, statuses, error
 * codes and `name@version` of models, which all come from registered
 * definitions; never run ids, inputs or messages, whose cardinality grows
 * with traffic.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly observer: EngineObserver;
  /** Where `pflow_queue_depth` comes from, read at each scrape (the broker's depth). */
  setQueueDepthSource(source: () => Promise<number>): void;
  /**
   * Where `pflow_queue_oldest_age_seconds` comes from, read at each scrape:
   * the `notBefore` (epoch ms) of the oldest execution that is queued and due
   * at `now` (`notBefore ≤ now`), or null when none is. Until a source is set
   * the gauge reads NaN (unknown).
   */
  setQueueOldestSource(source: (now: number) => Promise<number | null>): void;
  /** Where `pflow_backend_up` comes from, read at each scrape: which backends answered a ping. */
  setBackendsSource(source: () => Promise<Readonly<Record<Backend, boolean>>>): void;
}

/** The services a process depends on, as `pflow_backend_up` labels them. */
export type Backend = "store" | "broker";
export const BACKENDS: readonly Backend[] = ["store", "broker"];

/** Seconds. From a cache hit or a transform (milliseconds) to a slow model answer (minutes). */
const NODE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];
/** Seconds. A run is a few nodes in a row, or a long fan-out: up to ten minutes. */
const RUN_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "pflow_" });
  const registers = [registry];

  const runsStarted = new Counter({
    name: "pflow_runs_started_total",
    help: "Runs started, by workflow",
    labelNames: ["workflow"] as const,
    registers,
  });
  const runsFinished = new Counter({
    name: "pflow_runs_finished_total",
    help: "Runs finished, by workflow and final status",
    labelNames: ["workflow", "status"] as const,
    registers,
  });
  const runDuration = new Histogram({
    name: "pflow_run_duration_seconds",
    help: "From a run's start to its end, by workflow and final status",
    labelNames: ["workflow", "status"] as const,
    buckets: RUN_BUCKETS,
    registers,
  });
  const nodeDuration = new Histogram({
    name: "pflow_node_duration_seconds",
    help: 'From a node execution\'s first claim to its end, by node type, model (name@version; "" for other nodes) and status',
    labelNames: ["type", "model", "status"] as const,
    buckets: NODE_BUCKETS,
    registers,
  });
  const nodeExecutions = new Counter({
    name: "pflow_node_executions_total",
    help: "Node executions finished (map items included), by node type and status",
    labelNames: ["type", "status"] as const,
    registers,
  });
  const cacheHits = new Counter({
    name: "pflow_cache_hits_total",
    help: "Finished executions of cacheable nodes answered from the result cache, by node type",
    labelNames: ["type"] as const,
    registers,
  });
  const cacheMisses = new Counter({
    name: "pflow_cache_misses_total",
    help: "Finished executions of cacheable nodes that were computed, by node type",
    labelNames: ["type"] as const,
    registers,
  });
  const retries = new Counter({
    name: "pflow_retries_total",
    help: "Retries scheduled after a failed attempt, by node type and error code",
    labelNames: ["type", "code"] as const,
    registers,
  });
  const deadLetters = new Counter({
    name: "pflow_dead_letters_total",
    help: "Node tasks whose delivery was given up on and kept as dead letters",
    registers,
  });
  const tokens = new Counter({
    name: "pflow_tokens_total",
    help: "Model tokens used, by model (name@version) and kind (input or output); cache hits use none",
    labelNames: ["model", "kind"] as const,
    registers,
  });

  const cost = new Counter({
    name: "pflow_cost_total",
    help: "What model calls cost, by workflow, model (name@version) and currency, from token usage and declared prices",
    labelNames: ["workflow", "model", "currency"] as const,
    registers,
  });

  const heldBack = new Counter({
    name: "pflow_rate_limit_waits_total",
    help: "Model calls that waited for their model's deployment-wide rate limit, by model name",
    labelNames: ["model"] as const,
    registers,
  });
  const heldBackSeconds = new Counter({
    name: "pflow_rate_limit_wait_seconds_total",
    help: "Seconds model calls waited for their model's rate limit, by model name",
    labelNames: ["model"] as const,
    registers,
  });
  const circuitState = new Gauge({
    name: "pflow_circuit_state",
    help: "State of this process's circuit breaker of a model version (name@version): 0 closed, 1 half-open, 2 open",
    labelNames: ["model"] as const,
    registers,
  });
  const circuitOpened = new Counter({
    name: "pflow_circuit_opened_total",
    help: "Times this process's circuit breaker of a model version (name@version) opened",
    labelNames: ["model"] as const,
    registers,
  });
  const triggerFired = new Counter({
    name: "pflow_trigger_fired_total",
    help: "Runs a trigger (workflow.name) started in this process, by kind (cron, event, webhook)",
    labelNames: ["trigger", "kind"] as const,
    registers,
  });
  const triggerFailed = new Counter({
    name: "pflow_trigger_failed_total",
    help: "Firings of a trigger that failed in this process (input refused, message dead-lettered, secret missing), by kind",
    labelNames: ["trigger", "kind"] as const,
    registers,
  });
  const canaryRollbacks = new Counter({
    name: "pflow_canary_rollbacks_total",
    help: "Canaries this process cleared automatically (autoRollback) because they were worse than their base, by model and alias",
    labelNames: ["model", "alias"] as const,
    registers,
  });

  let depthSource: (() => Promise<number>) | undefined;
  new Gauge({
    name: "pflow_queue_depth",
    help: "Node tasks waiting for delivery, read from the broker at each scrape (NaN when it cannot be read)",
    registers,
    async collect() {
      if (!depthSource) return;
      try {
        this.set(await depthSource());
      } catch {
        // A broker that cannot answer must not fail the whole scrape; NaN says "unknown",
        // where the last value would say something false. /readyz reports the cause.
        this.set(Number.NaN);
      }
    },
  });

  let oldestSource: ((now: number) => Promise<number | null>) | undefined;
  new Gauge({
    name: "pflow_queue_oldest_age_seconds",
    help: "Seconds the oldest due node task has waited in the queue (0 when none waits), read from the store at each scrape (NaN when it cannot be read)",
    registers,
    async collect() {
      if (!oldestSource) {
        this.set(Number.NaN);
        return;
      }
      const now = Date.now();
      try {
        const since = await oldestSource(now);
        this.set(since === null ? 0 : Math.max(0, now - since) / 1000);
      } catch {
        // As for the depth: "unknown", never a stale or invented age.
        this.set(Number.NaN);
      }
    },
  });

  let backendsSource: (() => Promise<Readonly<Record<Backend, boolean>>>) | undefined;
  new Gauge({
    name: "pflow_backend_up",
    help: "1 if the backend (store or broker) answered a ping at this scrape, else 0; the same check as /readyz",
    labelNames: ["backend"] as const,
    registers,
    async collect() {
      if (!backendsSource) return;
      let up: Readonly<Record<Backend, boolean>> | undefined;
      try {
        up = await backendsSource();
      } catch {
        up = undefined;
      }
      for (const backend of BACKENDS) this.set({ backend }, up?.[backend] ? 1 : 0);
    },
  });

  const observer: EngineObserver = {
    runStarted: safely((run: RunRecord) => {
      runsStarted.inc({ workflow: run.workflow.name });
    }),
    runFinished: safely((run: RunRecord) => {
      const labels = { workflow: run.workflow.name, status: run.status };
      runsFinished.inc(labels);
      const from = run.startedAt ?? run.createdAt;
      if (run.finishedAt !== null) runDuration.observe(labels, Math.max(0, run.finishedAt - from) / 1000);
    }),
    nodeFinished: safely((event: NodeFinished) => {
      const { nodeType: type, outcome } = event;
      const model = outcome.model ?? "";
      nodeExecutions.inc({ type, status: outcome.status });
      // A skipped node never ran: it has no duration to count.
      if (event.durationMs !== null) {
        nodeDuration.observe({ type, model, status: outcome.status }, event.durationMs / 1000);
      }
      // Skipped and cancelled nodes never looked in the cache; a failed one looked, missed and computed.
      if (event.cacheable && (outcome.status === "succeeded" || outcome.status === "failed")) {
        (outcome.cached ? cacheHits : cacheMisses).inc({ type });
      }
      const usage = outcome.usage;
      if (usage) {
        tokens.inc({ model, kind: "input" }, usage.inputTokens);
        tokens.inc({ model, kind: "output" }, usage.outputTokens);
      }
      if (outcome.cost) {
        cost.inc(
          { workflow: event.run.workflow.name, model, currency: outcome.cost.currency },
          outcome.cost.amount,
        );
      }
    }),
    retryScheduled: safely((event: { nodeType: string; code: string }) => {
      retries.inc({ type: event.nodeType, code: event.code });
    }),
    deadLettered: safely(() => {
      deadLetters.inc();
    }),
    callHeldBack: safely((event: { model: string; waitMs: number }) => {
      heldBack.inc({ model: event.model });
      heldBackSeconds.inc({ model: event.model }, event.waitMs / 1000);
    }),
    circuitChanged: safely((event: { model: string; state: "closed" | "open" | "half-open" }) => {
      circuitState.set({ model: event.model }, CIRCUIT_STATES[event.state]);
      if (event.state === "open") circuitOpened.inc({ model: event.model });
    }),
    canaryAnalysed: safely((report: CanaryReport) => {
      // Adding 0 creates the series at the first analysis, before any rollback:
      // Prometheus's increase() cannot see a counter's first sample, so a series
      // born at 1 would hide the rollback that made it.
      canaryRollbacks.inc({ model: report.model, alias: report.alias }, report.rolledBack ? 1 : 0);
    }),
    // Both series of a trigger exist from when the process first knows it, at 0: increase()
    // cannot see a counter's first sample, so a series born at 1 would hide the first failure.
    triggerSeen: safely((event: TriggerEvent) => {
      triggerFired.inc({ trigger: event.trigger, kind: event.kind }, 0);
      triggerFailed.inc({ trigger: event.trigger, kind: event.kind }, 0);
    }),
    triggerFired: safely((event: TriggerEvent) => {
      triggerFired.inc({ trigger: event.trigger, kind: event.kind });
    }),
    triggerFailed: safely((event: TriggerEvent) => {
      triggerFailed.inc({ trigger: event.trigger, kind: event.kind });
    }),
  };

  return {
    registry,
    observer,
    setQueueDepthSource(source) {
      depthSource = source;
    },
    setQueueOldestSource(source) {
      oldestSource = source;
    },
    setBackendsSource(source) {
      backendsSource = source;
    },
  };
}

/**
 * The engine calls its observer in the middle of state transitions: a metric
 * that throws (a bad label value, a negative count) must cost a sample, never
 * a node or a run.
 */
function safely<A extends unknown[]>(record: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      record(...args);
    } catch {
      // Deliberately dropped: see above.
    }
  };
}

const CIRCUIT_STATES = { closed: 0, "half-open": 1, open: 2 } as const;
