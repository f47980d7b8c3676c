import type { Runner } from "./runner.ts";
import { taskFor } from "./runner.ts";
import type { EngineServices } from "./services.ts";

/**
 * Repairs what delivery loses, on a timer, in every process (each step is a
 * conditional update, so any number of sweepers can run at once):
 * - executions whose lease expired (a worker died) go back to the queue;
 * - queued executions untouched for a while (a lost or never-sent delivery,
 *   a retry whose timer died with its process) are published again;
 * - runs past their timeout end timed_out;
 * - map and workflow nodes past their own timeout fail (their child run is cancelled).
 */
export class Sweeper {
  readonly #services: EngineServices;
  readonly #runner: Runner;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

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
    const expired = await store.sweepExpiredLeases(options.leasesBefore ?? now, 1000);
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
