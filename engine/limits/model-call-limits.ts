import pLimit, { type LimitFunction } from "p-limit";
import type { CompiledModel } from "../../compiler/index.ts";
import { asExecutionError, ExecutionError } from "../errors.ts";
import type { Claimed } from "../executors/waiting.ts";
import type { CallOutcome } from "../model-call-recorder.ts";
import { delay } from "../providers/abortable.ts";
import type { TokenUsage } from "../providers/provider.ts";
import type { EngineServices } from "../services.ts";
import { taskFor } from "../tasks.ts";
import type { CallVerdict } from "./circuit-breaker.ts";
import { ModelGate } from "./model-gate.ts";

/** The model version an attempt calls (`name@version`), and its model's settings. */
export interface CalledModel {
  readonly pinned: string;
  readonly model: CompiledModel;
}

/**
 * A wait for a rate limit up to this long is spent in the process; a longer
 * one as state (the execution deferred, its delivery delayed), which frees the
 * worker for other work and costs a round trip through the store and broker.
 */
const IN_PROCESS_WAIT_MS = 250;

/**
 * Everything that limits a worker's calls to a model: the deployment-wide rate
 * limit (waited for briefly here, else as state), the model's `concurrency`
 * (calls in flight per process, of the model called: a fallback has its own),
 * and the circuit breaker of each model version, which also counts every
 * call's outcome in the model's statistics. One per worker process.
 */
export class ModelCallLimits {
  readonly #services: EngineServices;
  readonly #gate: ModelGate;
  readonly #concurrency = new Map<string, LimitFunction>();

  constructor(services: EngineServices) {
    this.#services = services;
    this.#gate = new ModelGate(services.store, services.observer, services.logger);
  }

  /**
   * Before a model call, its model's rate limit: a call slot is reserved
   * (unless the execution holds one from an earlier wait) and, when it is not
   * yet due, waited for: briefly here (cut short by `signal`), else as state.
   * True when the execution was deferred (its delivery comes back when the slot
   * is due); a wait is no attempt and no failure.
   */
  async heldBack(claimed: Claimed, called: CalledModel | null, signal: AbortSignal): Promise<boolean> {
    const { execution, token, run, plan } = claimed;
    if (!called?.model.rateLimit || execution.rateSlotAt !== null) return false;
    const { store, broker, clock, observer } = this.#services;
    const settings = called.model;
    const now = clock();
    const startAt = await this.#gate.reserve(settings, now);
    const waitMs = startAt - now;
    // Below a timer's resolution a wait would cost more than it is worth: a
    // call may start up to a millisecond early, which no per-minute limit sees.
    if (waitMs < 1) return false;
    observer.callHeldBack({ model: settings.name, waitMs });
    if (waitMs <= IN_PROCESS_WAIT_MS) {
      // Cut short by a cancellation or a stop, the attempt then ends at once on the same signals.
      await delay(waitMs, signal).catch(() => {});
      return false;
    }
    if (await store.deferExecution(execution.key, token, { notBefore: startAt, rateSlotAt: startAt }, now))
      await broker.publish([taskFor(run.id, execution.key, plan)], { delayMs: waitMs });
    return true;
  }

  /**
   * Makes a call within the called model's concurrency and breaker, and
   * records how it went: its statistics, its breaker, its tokens. `started`
   * hears when the call starts (after any wait for a concurrency slot). Calls
   * of nodes that call no model (`called` null) pass straight through.
   */
  async call<T extends { readonly cached?: boolean; readonly usage?: TokenUsage | null }>(
    called: CalledModel | null,
    execute: () => Promise<T>,
    started: (at: number) => void,
  ): Promise<T> {
    const { clock, calls } = this.#services;
    const measured = async (): Promise<T> => {
      const at = clock();
      started(at);
      if (called && !this.#gate.permit(called.model, called.pinned, at))
        throw this.#circuitOpen(called.pinned);
      const record = (outcome: CallOutcome | null) => {
        if (!called) return;
        const now = clock();
        if (outcome) calls.record(called.pinned, at, now - at, outcome);
        this.#gate.record(called.model, called.pinned, verdictOf(outcome), now);
      };
      try {
        const result = await execute();
        // A cache hit called no model.
        if (!result.cached) {
          record("ok");
          if (called && result.usage) this.#gate.charge(called.model, result.usage, clock());
        }
        return result;
      } catch (error) {
        record(callOutcomeOf(asExecutionError(error)));
        throw error;
      }
    };
    const limit = this.#limitFor(called);
    return limit ? limit(measured) : measured();
  }

  /** The error of a call its version's open circuit breaker did not let through. */
  #circuitOpen(model: string): ExecutionError {
    const reopensAt = this.#gate.reopensAt(model);
    const when =
      reopensAt === null ? "" : `; it lets a probe through at ${new Date(reopensAt).toISOString()}`;
    return ExecutionError.retryable(
      "circuit-open",
      `the circuit breaker of ${model} is open: too many of its recent calls failed${when}`,
    );
  }

  #limitFor(called: CalledModel | null): LimitFunction | null {
    if (!called) return null;
    const { name, concurrency } = called.model;
    let limit = this.#concurrency.get(name);
    if (!limit) {
      limit = pLimit(concurrency ?? Number.POSITIVE_INFINITY);
      this.#concurrency.set(name, limit);
    }
    return limit;
  }
}

/** How a failed call counts in a model's statistics; null: it says nothing of the model (the run was cancelled). */
function callOutcomeOf(error: ExecutionError): CallOutcome | null {
  if (error.code === "timeout") return "timeout";
  if (NOT_THE_MODELS.has(error.code)) return null;
  return "error";
}

const NOT_THE_MODELS: ReadonlySet<string> = new Set(["cancelled", "worker-stopped", "circuit-open"]);

function verdictOf(outcome: CallOutcome | null): CallVerdict {
  if (outcome === null) return "ignored";
  return outcome === "ok" ? "ok" : "failed";
}
