import type { Cron } from "croner";
import { type CronTrigger, cronSchedule } from "../../compiler/index.ts";
import type { EngineServices } from "../services.ts";
import { TERMINAL_RUN } from "../store/records.ts";
import type { ActiveTrigger } from "./active.ts";
import { decideCron, dueTicks } from "./cron-plan.ts";
import { derivedRunId } from "./run-ids.ts";
import { InputRefused, type TriggerStarter } from "./starter.ts";

/**
 * One cron trigger in one process. Every process runs every cron trigger; a
 * tick fires once in all of them because each tick is claimed in the Store
 * (Store.triggers.claimTick: one insert on trigger + tick wins), and the run's
 * id is derived from the trigger and the tick, so even a tick whose claimer
 * died before creating the run is created once, by whoever recovers it.
 *
 * The process reads the Store only when a tick is due (it knows the schedule),
 * so a deployment with many cron triggers costs nothing between ticks.
 */
export class CronTriggerRunner {
  readonly active: ActiveTrigger & { readonly trigger: CronTrigger };
  readonly schedule: Cron;
  /** When this process should look next (epoch ms); 0: at once. */
  nextDue = 0;
  readonly #services: EngineServices;
  readonly #starter: TriggerStarter;
  readonly #graceMs: number;
  readonly #recoverAfterMs: number;

  constructor(
    active: ActiveTrigger & { readonly trigger: CronTrigger },
    services: EngineServices,
    starter: TriggerStarter,
    timing: { readonly graceMs: number; readonly recoverAfterMs: number },
  ) {
    this.active = active;
    this.schedule = cronSchedule(active.trigger.cron, active.trigger.timezone);
    this.#services = services;
    this.#starter = starter;
    this.#graceMs = timing.graceMs;
    this.#recoverAfterMs = timing.recoverAfterMs;
  }

  /** The next tick after `now`, or null if the schedule has none. */
  nextTick(now: number): number | null {
    return this.schedule.nextRun(new Date(now))?.getTime() ?? null;
  }

  /** Does what is due at `now`: recovers a claimed tick whose run was never created, then fires what the schedule says. */
  async run(now: number): Promise<void> {
    const { store } = this.#services;
    const { trigger } = this.active;
    const state = await store.triggers.getTrigger(trigger.id);
    const next = this.nextTick(now);
    this.nextDue = next ?? Number.POSITIVE_INFINITY;
    if (!state || state.paused) return;
    const latest = await store.triggers.latestTick(trigger.id);
    if (latest?.outcome === "fired" && latest.runId) {
      if (now - latest.claimedAt >= this.#recoverAfterMs) await this.#recover(latest.tick, latest.runId);
      else if (!(await store.getRun(latest.runId)))
        this.#lookAgainAt(latest.claimedAt + this.#recoverAfterMs);
    }
    const after = Math.max(latest?.tick ?? Number.NEGATIVE_INFINITY, state.since);
    const decision = decideCron(trigger.catchUp, dueTicks(this.schedule, after, now), now, this.#graceMs);
    for (const tick of decision.fire) await this.#fire(tick, now);
    if (decision.passOver !== null) {
      await store.triggers.claimTick({
        trigger: trigger.id,
        tick: decision.passOver,
        outcome: "missed",
        runId: null,
        claimedAt: now,
      });
    }
  }

  /** Comes back before the next tick, to start a claimed run its claimer may not have. */
  #lookAgainAt(time: number): void {
    this.nextDue = Math.min(this.nextDue, time);
  }

  async #fire(tick: number, now: number): Promise<void> {
    const { store } = this.#services;
    const { trigger } = this.active;
    const claim = (outcome: "fired" | "skipped" | "failed", runId: string | null) =>
      store.triggers.claimTick({ trigger: trigger.id, tick, outcome, runId, claimedAt: now });
    let input: unknown;
    try {
      input = await this.#starter.input(this.active, { trigger: this.#context(tick, now) });
    } catch (error) {
      if (!(error instanceof InputRefused)) throw error;
      if (await claim("failed", null)) await this.#starter.failed(this.active, error.message);
      return;
    }
    if (trigger.overlap === "skip" && (await this.#previousRunGoing())) {
      if (await claim("skipped", null)) {
        this.#services.logger.info(
          { trigger: trigger.id, tick: new Date(tick).toISOString() },
          "cron tick skipped: the previous run is still going (overlap: skip)",
        );
      }
      return;
    }
    const runId = derivedRunId("cron", trigger.id, tick);
    if (!(await claim("fired", runId))) {
      // Another process has this tick: look again once it should have started its run.
      this.#lookAgainAt(now + this.#recoverAfterMs);
      return;
    }
    try {
      await this.#starter.start(this.active, runId, input);
    } catch (error) {
      if (!(error instanceof InputRefused)) throw error;
      await this.#starter.failed(this.active, error.message);
    }
  }

  /** A tick claimed to fire whose run does not exist: its claimer died in between. Started now, under the same id. */
  async #recover(tick: number, runId: string): Promise<void> {
    if (await this.#services.store.getRun(runId)) return;
    this.#services.logger.warn(
      { trigger: this.active.trigger.id, runId },
      "starting the run of a claimed cron tick whose claimer stopped before starting it",
    );
    try {
      const input = await this.#starter.input(this.active, {
        trigger: this.#context(tick, this.#services.clock()),
      });
      await this.#starter.start(this.active, runId, input);
    } catch (error) {
      if (!(error instanceof InputRefused)) throw error;
      await this.#starter.failed(this.active, error.message);
    }
  }

  async #previousRunGoing(): Promise<boolean> {
    const { store } = this.#services;
    const state = await store.triggers.getTrigger(this.active.trigger.id);
    if (!state?.lastRunId) return false;
    const run = await store.getRun(state.lastRunId);
    return run !== null && !TERMINAL_RUN.has(run.status);
  }

  #context(tick: number, now: number): Record<string, unknown> {
    const { trigger, workflow } = this.active;
    return {
      id: trigger.id,
      kind: "cron",
      workflow,
      scheduledAt: new Date(tick).toISOString(),
      firedAt: new Date(now).toISOString(),
    };
  }
}
