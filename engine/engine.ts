import type { Task } from "./broker/broker.ts";
import { CanaryAnalysis } from "./canary-analysis.ts";
import { deadLetter } from "./dead-letters.ts";
import { type RunJson, runJson } from "./run-view.ts";
import { Runner, type StartRequest } from "./runner.ts";
import type { EngineServices } from "./services.ts";
import { type RunRecord, TERMINAL_RUN } from "./store/records.ts";
import { Sweeper } from "./sweeper.ts";
import { Triggers } from "./triggers/triggers.ts";
import { Worker } from "./worker.ts";

/**
 * The engine of one process: the runner (decisions applied through the
 * ports), workers (node tasks from the broker), the sweeper (repairs) and
 * canary analysis (automatic rollbacks). `pflow run` and `pflow serve` run
 * them all; `pflow worker` too, without an API.
 */
export class Engine {
  readonly services: EngineServices;
  readonly runner: Runner;
  /** Public so that tests (and the health route) judge canaries when they choose. */
  readonly canaries: CanaryAnalysis;
  /** Cron, event and webhook triggers; started by the CLI (serve, worker), not by start(). */
  readonly triggers: Triggers;
  readonly #worker: Worker;
  readonly #sweeper: Sweeper;

  constructor(services: EngineServices) {
    this.services = services;
    this.runner = new Runner(services);
    this.canaries = new CanaryAnalysis(services);
    this.#worker = new Worker(services, this.runner);
    this.#sweeper = new Sweeper(services, this.runner);
    this.triggers = new Triggers(services, this.runner, services.config.triggers);
  }

  /**
   * Starts workers and the sweeper. With `recoverAllLeases` (the embedded
   * store, which only this process uses) every lease still held is taken back at
   * once: its holder died with the previous process. Then unfinished runs are
   * reconciled, so a run interrupted by a crash goes on.
   */
  async start(options: { recoverAllLeases?: boolean; workers?: boolean } = {}): Promise<void> {
    const { store, clock, logger } = this.services;
    // Recovery first: once this process's own workers hold leases, taking back
    // every lease would take theirs too.
    const now = clock();
    await this.#sweeper.sweep(
      options.recoverAllLeases ? { leasesBefore: Number.MAX_SAFE_INTEGER, strandedBefore: now + 1 } : {},
    );
    if (options.workers ?? true) await this.#worker.start();
    const unfinished = await store.findUnfinishedRuns(10_000);
    for (const run of unfinished) await this.runner.reconcile(run.id);
    if (unfinished.length > 0) logger.info({ runs: unfinished.length }, "resumed unfinished runs");
    this.#sweeper.start();
    this.services.calls.start();
    this.canaries.start();
  }

  /** Stops taking work, lets work in hand finish, and stops the sweeper and canary analysis. */
  async stop(): Promise<void> {
    await this.triggers.stop();
    await this.#worker.stop();
    await this.#sweeper.stop();
    await this.canaries.stop();
    await this.services.calls.stop();
  }

  startRun(request: StartRequest): Promise<RunRecord> {
    return this.runner.startRun(request);
  }

  /** Waits until the run has finished, or `timeoutMs` passed; returns the run as it is then. */
  async waitForRun(runId: string, timeoutMs: number): Promise<RunRecord | null> {
    const deadline = this.services.clock() + timeoutMs;
    for (;;) {
      const run = await this.services.store.getRun(runId);
      if (!run || TERMINAL_RUN.has(run.status)) return run;
      const left = deadline - this.services.clock();
      if (left <= 0) return run;
      await this.runner.events.waitFor(runId, Math.min(left, 1000));
    }
  }

  async runJson(runId: string): Promise<RunJson | null> {
    const run = await this.services.store.getRun(runId);
    if (!run) return null;
    return runJson(run, await this.services.store.getExecutions(runId));
  }

  /** A task the broker gave up on: see deadLetter(). */
  deadLetter(task: Task, reason: string, deliveries: number): Promise<void> {
    return deadLetter(this.services, this.runner, task, reason, deliveries);
  }
}
