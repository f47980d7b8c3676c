import type { CronTrigger, EventTrigger, PlanTrigger, WebhookTrigger } from "../../compiler/index.ts";
import type { Runner } from "../runner.ts";
import type { EngineServices } from "../services.ts";
import type { TriggerState } from "../store/triggers.ts";
import { type ActiveTrigger, activeTriggers } from "./active.ts";
import { CronTriggerRunner } from "./cron-trigger.ts";
import type { EventBus, EventSubscription } from "./event-bus.ts";
import { eventHandler } from "./event-trigger.ts";
import { MemoryEventBus } from "./memory-event-bus.ts";
import { TriggerStarter } from "./starter.ts";
import { fireWebhook, type WebhookRequest } from "./webhook.ts";

/**
 * The triggers of one process. Every process knows every trigger in force (the
 * latest version of each workflow, re-read every `refreshMs`), for the API
 * (GET /v1/triggers, webhooks); processes that fire (`pflow worker`, `pflow
 * serve` with workers) also run the cron schedules and consume the event
 * queues. How each fires exactly once: docs/decisions.md.
 */
export interface TriggerTiming {
  /** How often due cron ticks are looked for. */
  readonly pollMs: number;
  /** How often the definitions (and pauses made in other processes) are re-read. */
  readonly refreshMs: number;
  /** A tick at most this late is on time; older ones were missed (catchUp decides). */
  readonly graceMs: number;
  /** A claimed tick whose run does not exist after this long is started by whoever looks. */
  readonly recoverAfterMs: number;
  /** Event queues are named `<queuePrefix>.trigger.<trigger id>`. */
  readonly queuePrefix: string;
}

export const DEFAULT_TRIGGER_TIMING: TriggerTiming = Object.freeze({
  pollMs: 1_000,
  refreshMs: 5_000,
  graceMs: 60_000,
  recoverAfterMs: 30_000,
  queuePrefix: "pflow",
});

/** A trigger as GET /v1/triggers shows it: its stored state (without `since`), when it fires next, and what it listens to. */
export interface TriggerView extends Omit<TriggerState, "since"> {
  readonly nextFireAt: number | null;
  /** cron: the expression and zone; event: exchange and routing key; webhook: its path. */
  readonly detail: Readonly<Record<string, string>>;
}

export class Triggers {
  readonly events: EventBus;
  readonly #services: EngineServices;
  readonly #starter: TriggerStarter;
  readonly #timing: TriggerTiming;
  #active: ActiveTrigger[] = [];
  /** The triggers of each workflow's latest version, by name: re-read only when a version is new. */
  readonly #plans = new Map<
    string,
    { readonly version: number; readonly triggers: readonly PlanTrigger[] }
  >();
  #states = new Map<string, TriggerState>();
  readonly #crons = new Map<string, CronTriggerRunner>();
  readonly #subscriptions = new Map<string, { hash: string; subscription: Promise<EventSubscription> }>();
  #firing = false;
  #timer: NodeJS.Timeout | undefined;
  #refreshedAt = Number.NEGATIVE_INFINITY;
  #pass: Promise<void> = Promise.resolve();
  #stopped = true;

  constructor(services: EngineServices, runner: Runner, timing: Partial<TriggerTiming> = {}) {
    this.#services = services;
    this.events = services.events ?? new MemoryEventBus();
    this.#starter = new TriggerStarter(services, runner);
    this.#timing = { ...DEFAULT_TRIGGER_TIMING, ...timing };
  }

  /** With `fire`, this process runs cron schedules and consumes event queues; without, it only knows them. */
  async start(options: { readonly fire: boolean }): Promise<void> {
    this.#firing = options.fire;
    this.#stopped = false;
    await this.refresh();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pass.catch(() => {});
    const subscriptions = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    await Promise.all(subscriptions.map(async ({ subscription }) => (await subscription).close()));
  }

  /** Re-reads the triggers in force and their states; starts and stops what changed. */
  async refresh(): Promise<void> {
    const { store, clock } = this.#services;
    const now = clock();
    this.#refreshedAt = now;
    const active = await activeTriggers(store, this.#services.catalog, this.#plans);
    // One read for all; a write only for a trigger seen for the first time.
    const known = new Map((await store.triggers.listTriggers()).map((state) => [state.id, state]));
    const states = new Map<string, TriggerState>();
    for (const { trigger, workflow } of active) {
      const state =
        known.get(trigger.id) ??
        (await store.triggers.ensureTrigger(trigger.id, workflow, trigger.kind, now));
      states.set(trigger.id, state);
      this.#services.observer.triggerSeen?.({ trigger: trigger.id, kind: trigger.kind });
    }
    this.#active = active;
    this.#states = states;
    if (this.#firing && !this.#stopped) {
      this.#syncCrons();
      await this.#syncSubscriptions();
    }
  }

  /** Every trigger in force with its state, by id. */
  async list(): Promise<TriggerView[]> {
    const { store, clock } = this.#services;
    await this.#refreshIfStale();
    const now = clock();
    const states = new Map((await store.triggers.listTriggers()).map((state) => [state.id, state]));
    const views: TriggerView[] = [];
    for (const active of this.#active) {
      const { trigger } = active;
      const state = states.get(trigger.id) ?? this.#states.get(trigger.id);
      if (!state) continue;
      const cron =
        trigger.kind === "cron"
          ? (this.#crons.get(trigger.id) ??
            new CronTriggerRunner(
              active as ActiveTrigger & { trigger: CronTrigger },
              this.#services,
              this.#starter,
              this.#timing,
            ))
          : null;
      views.push({
        id: trigger.id,
        workflow: active.workflow,
        kind: trigger.kind,
        paused: state.paused,
        nextFireAt: cron && !state.paused ? cron.nextTick(now) : null,
        lastFireAt: state.lastFireAt,
        lastRunId: state.lastRunId,
        lastError: state.lastError,
        lastErrorAt: state.lastErrorAt,
        fired: state.fired,
        failed: state.failed,
        detail: detailOf(trigger),
      });
    }
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Pauses or resumes a trigger in force; null if there is none of that id. */
  async setPaused(id: string, paused: boolean): Promise<TriggerState | null> {
    await this.#refreshIfStale();
    if (!this.#active.some(({ trigger }) => trigger.id === id)) return null;
    const state = await this.#services.store.triggers.setTriggerPaused(id, paused, this.#services.clock());
    await this.refresh();
    return state;
  }

  /** Handles POST /v1/hooks/{name}: see webhook.ts. */
  async webhook(
    name: string,
    request: WebhookRequest,
  ): Promise<{ readonly id: string; readonly created: boolean }> {
    await this.#refreshIfStale();
    const active = this.#active.find(({ trigger }) => trigger.kind === "webhook" && trigger.name === name) as
      | (ActiveTrigger & { trigger: WebhookTrigger })
      | undefined;
    const state = active ? await this.#services.store.triggers.getTrigger(active.trigger.id) : null;
    return fireWebhook(active, name, state?.paused ?? false, request, this.#services, this.#starter);
  }

  /** Runs one pass now: the due cron ticks (tests call it with an injected clock). */
  async tick(): Promise<void> {
    const pass = this.#runPass();
    this.#pass = pass.catch(() => {});
    await pass;
  }

  async #runPass(): Promise<void> {
    const { clock, logger } = this.#services;
    if (clock() - this.#refreshedAt >= this.#timing.refreshMs) await this.refresh();
    const now = clock();
    for (const cron of this.#crons.values()) {
      if (now < cron.nextDue) continue;
      try {
        await cron.run(now);
      } catch (error) {
        // The Store may be down: the tick is looked at again on the next pass.
        cron.nextDue = now + this.#timing.pollMs;
        logger.warn({ err: error, trigger: cron.active.trigger.id }, "cron trigger pass failed; retrying");
      }
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.#runPass()
        .catch((error) => this.#services.logger.warn({ err: error }, "trigger pass failed"))
        .finally(() => this.#schedule());
    }, this.#timing.pollMs);
    this.#timer.unref();
  }

  async #refreshIfStale(): Promise<void> {
    if (this.#services.clock() - this.#refreshedAt >= this.#timing.refreshMs) await this.refresh();
  }

  #syncCrons(): void {
    const wanted = new Map<string, ActiveTrigger & { trigger: CronTrigger }>();
    for (const active of this.#active) {
      if (active.trigger.kind === "cron")
        wanted.set(active.trigger.id, active as ActiveTrigger & { trigger: CronTrigger });
    }
    for (const [id, runner] of this.#crons) {
      const active = wanted.get(id);
      if (
        !active ||
        cronKey(active.trigger) !== cronKey(runner.active.trigger) ||
        active.version !== runner.active.version
      )
        this.#crons.delete(id);
    }
    for (const [id, active] of wanted) {
      if (!this.#crons.has(id))
        this.#crons.set(id, new CronTriggerRunner(active, this.#services, this.#starter, this.#timing));
    }
  }

  async #syncSubscriptions(): Promise<void> {
    const wanted = new Map<string, ActiveTrigger & { trigger: EventTrigger }>();
    for (const active of this.#active) {
      if (active.trigger.kind === "event" && !this.#states.get(active.trigger.id)?.paused)
        wanted.set(active.trigger.id, active as ActiveTrigger & { trigger: EventTrigger });
    }
    for (const [id, { hash, subscription }] of this.#subscriptions) {
      const active = wanted.get(id);
      if (active && hash === subscriptionKey(active)) continue;
      this.#subscriptions.delete(id);
      await (await subscription).close();
    }
    for (const [id, active] of wanted) {
      if (this.#subscriptions.has(id)) continue;
      const { trigger } = active;
      const subscription = this.events.subscribe(
        {
          exchange: trigger.exchange,
          routingKey: trigger.routingKey,
          queue: `${this.#timing.queuePrefix}.trigger.${trigger.id}`,
          prefetch: trigger.prefetch,
        },
        eventHandler(active, this.#services, this.#starter),
      );
      this.#subscriptions.set(id, { hash: subscriptionKey(active), subscription });
      try {
        await subscription;
      } catch (error) {
        // Tried again at the next refresh; counted as a failure, so that a trigger that can never
        // consume (its exchange exists with another type) shows its reason and alerts.
        this.#subscriptions.delete(id);
        await this.#starter.failed(
          active,
          `cannot consume the trigger's events: ${(error as Error).message}`,
        );
      }
    }
  }
}

function cronKey(trigger: CronTrigger): string {
  return JSON.stringify([trigger.cron, trigger.timezone, trigger.overlap, trigger.catchUp, trigger.input]);
}

function subscriptionKey(active: ActiveTrigger & { trigger: EventTrigger }): string {
  const { trigger } = active;
  return JSON.stringify([
    active.version,
    trigger.exchange,
    trigger.routingKey,
    trigger.prefetch,
    trigger.input,
  ]);
}

function detailOf(trigger: CronTrigger | EventTrigger | WebhookTrigger): Record<string, string> {
  switch (trigger.kind) {
    case "cron":
      return {
        cron: trigger.cron,
        timezone: trigger.timezone,
        overlap: trigger.overlap,
        catchUp: trigger.catchUp,
      };
    case "event":
      return { exchange: trigger.exchange, routingKey: trigger.routingKey };
    case "webhook":
      return { path: `/v1/hooks/${trigger.name}` };
  }
}
