import { propagationOf } from "./propagation.ts";
import type { Runner } from "./runner.ts";
import type { EngineServices } from "./services.ts";
import { type ExecutionRecord, executionKey, TERMINAL_EXECUTION } from "./store/records.ts";
import type { FinishResult } from "./store/store.ts";
import { nodeOf, taskFor } from "./tasks.ts";
import { repairSignals } from "./waits/signals.ts";
import { fireTimer } from "./waits/timers.ts";

/**
 * Repairs what delivery loses, on a timer, in every process (each step is a
 * conditional update, so any number of sweepers can run at once):
 * - executions whose lease expired (a worker died) go back to the queue;
 * - queued executions untouched for a while (a lost or never-sent delivery,
 *   a retry whose timer died with its process) are published again;
 * - runs past their timeout end timed_out;
 * - map and workflow nodes past their own timeout fail (their child run is cancelled);
 * - wait and approval nodes whose timer has passed end (waits/timers.ts), and
 *   signals a crash left half delivered are delivered (waits/signals.ts);
 * - finishes whose propagation a crash interrupted (a store that propagates in
 *   several writes) are propagated, and their runs reconciled from statuses.
 * - history events a crash left unnumbered (a store that numbers them in a
 *   second write) are numbered; history past its retention is deleted in bulk.
 */
const HISTORY_DELETION_INTERVAL_MS = 60_000;
const TIMER_PAGE = 100;
const TIMER_PAGES = 20;

export class Sweeper {
  readonly #services: EngineServices;
  readonly #runner: Runner;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** When expired history was last deleted (epoch ms): at most once a minute. */
  #historyDeletedAt = 0;
  /** When half-delivered signals were last looked for (epoch ms). */
  #signalsRepairedAt = 0;

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
    await this.#fireDueTimers(now);
    await this.#repairSignals(now);
    for (const execution of await store.findUnpropagated(now - config.strandedAfterMs, 100))
      await this.#resumePropagation(execution);
    // History events a writer recorded but died before numbering (MongoDB): numbered now.
    await store.repairHistory(now - config.strandedAfterMs, 1000);
    await this.#deleteExpiredHistory(now);
  }

  /**
   * Waiting executions whose timer is due: wait and approval nodes (their
   * `for`/`until`, or their timeout: waits/timers.ts), map and workflow nodes
   * past their own timeout. Timers due together (a batch of runs waiting
   * until one time) are taken a page at a time, up to TIMER_PAGES pages a pass.
   */
  async #fireDueTimers(now: number): Promise<void> {
    for (let page = 0; page < TIMER_PAGES; page++) {
      const due = await this.#services.store.findOverdueWaiting(now, TIMER_PAGE);
      let failed = 0;
      for (const waiting of due) {
        try {
          if (waiting.status === "waiting") await fireTimer(this.#services, this.#runner, waiting);
          else await this.#runner.timeOutWaiting(waiting);
        } catch (error) {
          // One timer's failure must not hold up the others, nor the rest of the sweep.
          failed++;
          this.#services.logger.warn({ err: error, key: waiting.key }, "a due timer failed; will try again");
        }
      }
      // A page that failed would come back as it is: the next pass tries again.
      if (due.length < TIMER_PAGE || failed > 0) return;
    }
  }

  /**
   * Signals a crash left half delivered (waits/signals.ts): only those
   * untouched for strandedAfterMs count, so looking more often than a third
   * of that finds nothing new.
   */
  async #repairSignals(now: number): Promise<void> {
    const { strandedAfterMs } = this.#services.config;
    if (now - this.#signalsRepairedAt < strandedAfterMs / 3) return;
    this.#signalsRepairedAt = now;
    await repairSignals(this.#services, this.#runner, now - strandedAfterMs, 100);
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
