import type { Logger } from "pino";
import type { CircuitBreakerSettings, CompiledModel, ModelRateLimit } from "../../compiler/index.ts";
import type { EngineObserver } from "../observer.ts";
import type { TokenUsage } from "../providers/provider.ts";
import type { Store } from "../store/store.ts";
import { type CallVerdict, CircuitBreaker } from "./circuit-breaker.ts";

const MINUTE_MS = 60_000;

/**
 * What stands between a worker and a model's endpoint, besides `concurrency`:
 * the model's deployment-wide rate limit (a schedule in the Store that every
 * process reserves call slots from) and this process's circuit breakers, one
 * per model version. One per worker process.
 */
export class ModelGate {
  readonly #store: Store;
  readonly #observer: EngineObserver;
  readonly #logger: Logger;
  readonly #breakers = new Map<
    string,
    { readonly settings: CircuitBreakerSettings; readonly breaker: CircuitBreaker }
  >();

  constructor(store: Store, observer: EngineObserver, logger: Logger) {
    this.#store = store;
    this.#observer = observer;
    this.#logger = logger;
  }

  /**
   * Reserves a call slot of the model's rate limit: when the call may start,
   * which is later than the slot while earlier calls' tokens are still being
   * paid off. `now` (or earlier) for a model without a limit.
   */
  async reserve(model: CompiledModel, now: number): Promise<number> {
    const limit = model.rateLimit;
    if (!limit) return now;
    const interval = limit.requestsPerMinute ? MINUTE_MS / limit.requestsPerMinute : 0;
    const slot = await this.#store.takeRateSlot(rateKey(model.name), interval, now);
    return limit.tokensPerMinute ? Math.max(slot.startAt, slot.tokensFreeAt) : slot.startAt;
  }

  /**
   * Charges the tokens a call used to the model's `tokensPerMinute`. Not
   * awaited by the caller: a charge that fails is logged and lost, which lets a
   * few more calls through, never fewer.
   */
  charge(model: CompiledModel, usage: TokenUsage, now: number): void {
    const perMinute = tokensPerMinute(model.rateLimit);
    if (perMinute === null || usage.totalTokens <= 0) return;
    this.#store
      .chargeRateTokens(rateKey(model.name), (usage.totalTokens * MINUTE_MS) / perMinute, now)
      .catch((error: unknown) => {
        this.#logger.warn({ err: error, model: model.name }, "tokens not charged to the model's rate limit");
      });
  }

  /** Whether the breaker of `version` (`name@version`) lets a call through now (always, without one). */
  permit(model: CompiledModel, version: string, now: number): boolean {
    const breaker = this.#breaker(model, version);
    if (!breaker) return true;
    const before = breaker.state;
    const permitted = breaker.permit(now);
    this.#changed(version, before, breaker);
    return permitted;
  }

  /** When the open breaker of `version` lets a probe through; null if it is not open. */
  reopensAt(version: string): number | null {
    return this.#breakers.get(version)?.breaker.reopensAt ?? null;
  }

  /** How a permitted call to `version` ended. */
  record(model: CompiledModel, version: string, verdict: CallVerdict, now: number): void {
    const breaker = this.#breaker(model, version);
    if (!breaker) return;
    const before = breaker.state;
    breaker.record(verdict, now);
    this.#changed(version, before, breaker);
  }

  #breaker(model: CompiledModel, version: string): CircuitBreaker | null {
    const settings = model.circuitBreaker;
    if (!settings) return null;
    const current = this.#breakers.get(version);
    // A Model document registered with other settings starts its breakers afresh.
    if (current && sameSettings(current.settings, settings)) return current.breaker;
    const breaker = new CircuitBreaker(settings);
    this.#breakers.set(version, { settings, breaker });
    return breaker;
  }

  #changed(version: string, before: string, breaker: CircuitBreaker): void {
    if (breaker.state === before) return;
    this.#logger.warn({ model: version, from: before, to: breaker.state }, "circuit breaker changed state");
    this.#observer.circuitChanged({ model: version, state: breaker.state });
  }
}

/** The Store key of a model's rate limit: all its versions share it. */
function rateKey(name: string): string {
  return `model:${name}`;
}

function sameSettings(a: CircuitBreakerSettings, b: CircuitBreakerSettings): boolean {
  return (
    a.failureRatio === b.failureRatio &&
    a.minCalls === b.minCalls &&
    a.windowMs === b.windowMs &&
    a.openForMs === b.openForMs
  );
}

function tokensPerMinute(limit: ModelRateLimit | null): number | null {
  return limit?.tokensPerMinute ?? null;
}
