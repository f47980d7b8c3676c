import { propagationOf } from "./propagation.ts";
import type { Runner } from "./runner.ts";
import type { EngineServices } from "./services.ts";
import { type ExecutionRecord, executionKey, TERMINAL_EXECUTION } from "./store/records.ts";
import type { FinishResult } from "./store/store.ts";
import { nodeOf, taskFor } from "./tasks.ts";

/**
 * Repairs what delivery loses, on a timer, in every process (each step is a
 * conditional update, so any number of sweepers can run at once):
 * - executions whose lease expired (a worker died) go back to the queue;
 * - queued executions untouched for a while (a lost or never-sent delivery,
 *   a retry whose timer died with its process) are published again;
 * - runs past their timeout end timed_out;
 * - map and workflow nodes past their own timeout fail (their child run is cancelled);
 * - finishes whose propagation a crash interrupted (a store that propagates in
 *   several writes) are propagated, and their runs reconciled from statuses.
 * - history events a crash left unnumbered (a store that numbers them in a
 *   second write) are numbered; history past its retention is deleted in bulk.
 */
const HISTORY_DELETION_INTERVAL_MS = 60_000;

export class Sweeper {
  readonly #services: EngineServices;
  readonly #runner: Runner;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** When expired history was last deleted (epoch ms): at most once a minute. */
  #historyDeletedAt = 0;

  constructor(services: EngineServices, runner: Runner) {
    this.#services = services;
    this.#runner = runner;
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (!this.#running) {
        this.#running = this.sweep()
          .catch((error) => this.#services.logger.warn({ err: error }, "sweep failed; will try again"))
          .finally(() => {
            this.#running = undefined;
          });
      }
    }, this.#services.config.sweepIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass. `leasesBefore` lets recovery take back every lease at once (the embedded store's only process died). */
  async sweep(options: { leasesBefore?: number; strandedBefore?: number } = {}): Promise<void> {
    const { store, clock, config } = this.#services;
    const now = clock();
    const expired = await store.sweepExpiredLeases(now, 1000, options.leasesBefore ?? now);
    const stranded = await store.findStrandedExecutions(
      now,
      options.strandedBefore ?? now - config.strandedAfterMs,
      1000,
    );
    await this.#republish([...expired, ...stranded]);
    for (const run of await store.findOverdueRuns(now, 100))
      await this.#runner.cancelRun(run.id, "timed_out");
    for (const waiting of await store.findOverdueWaiting(now, 100))
      await this.#runner.timeOutWaiting(waiting);
    for (const execution of await store.findUnpropagated(now - config.strandedAfterMs, 100))
      await this.#resumePropagation(execution);
    // History events a writer recorded but died before numbering (MongoDB): numbered now.
    await store.repairHistory(now - config.strandedAfterMs, 1000);
    await this.#deleteExpiredHistory(now);
  }

  /** Bulk deletion of history past its retention, in batches, at most once a minute. */
  async #deleteExpiredHistory(now: number): Promise<void> {
    if (now - this.#historyDeletedAt < HISTORY_DELETION_INTERVAL_MS) return;
    this.#historyDeletedAt = now;
    const before = now - this.#services.config.historyRetentionMs;
    for (let batch = 0; batch < 100; batch++)
      if ((await this.#services.store.deleteHistory(before, 10_000)) < 10_000) return;
  }

  /**
   * Takes an interrupted finish where its process left it: its dependents
   * counted (idempotently), then what the runner does after any finish, from
   * statuses: a map's next items or its end, the ready dependents, the run's end.
   */
  async #resumePropagation(execution: ExecutionRecord): Promise<void> {
    const { store, catalog } = this.#services;
    const run = await store.getRun(execution.runId);
    if (!run) return;
    const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
    // The run's failing flag rides on the interrupted write: set it again if it was the one.
    if (
      execution.item === null &&
      execution.status === "failed" &&
      nodeOf(plan, execution).onError === "fail"
    )
      await store.markRunFailing(run.id);
    const ready = await store.resumePropagation(
      execution.key,
      propagationOf(plan, execution.item === null ? execution.nodeId : null),
    );
    let items: FinishResult["items"] = null;
    if (execution.item !== null) {
      const all = await store.getItems(run.id, execution.nodeId);
      const map = await store.getExecution(executionKey(run.id, execution.nodeId));
      items = {
        done: all.filter((item) => TERMINAL_EXECUTION.has(item.status)).length,
        total: map?.itemsTotal ?? all.length,
      };
    }
    await this.#runner.afterFinish(run, plan, execution, { ready, runComplete: false, items });
    await this.#runner.reconcile(run.id);
  }

  async #republish(keys: readonly string[]): Promise<void> {
    const { store, catalog, broker } = this.#services;
    for (const key of keys) {
      const execution = await store.getExecution(key);
      const run = execution ? await store.getRun(execution.runId) : null;
      if (!execution || !run) continue;
      const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
      await broker.publish([taskFor(run.id, key, plan)]);
    }
  }
}
