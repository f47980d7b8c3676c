import type { Runner } from "../runner.ts";
import { InputRejected } from "../runner.ts";
import type { EngineServices } from "../services.ts";
import type { RunRecord } from "../store/records.ts";
import { evaluateTemplate } from "../template-eval.ts";
import type { ActiveTrigger } from "./active.ts";

/**
 * What every kind of trigger does to start a run: evaluate its input template,
 * check the input against the workflow's inputs schema, start the run under a
 * derived id (once: a run that exists is not started again), and keep count.
 */
export class InputRefused extends Error {
  override readonly name = "InputRefused";
}

export class TriggerStarter {
  readonly #services: EngineServices;
  readonly #runner: Runner;

  constructor(services: EngineServices, runner: Runner) {
    this.#services = services;
    this.#runner = runner;
  }

  /** The run input from the trigger's template, checked; throws InputRefused with the reason. */
  async input(active: ActiveTrigger, context: Record<string, unknown>): Promise<unknown> {
    const { catalog, schemas, config } = this.#services;
    let input: unknown;
    try {
      input = await evaluateTemplate(active.trigger.input, context, config.expressions);
    } catch (error) {
      throw new InputRefused(`the trigger's input template failed: ${(error as Error).message}`);
    }
    const { plan } = await catalog.plan(active.workflow, active.version);
    const violations = schemas.applyDefaultsAndValidate(plan.inputs, structuredClone(input ?? {}));
    if (violations.length > 0) {
      const list = violations.map((v) => `${v.path} ${v.message}`).join("; ");
      throw new InputRefused(
        `the mapped input does not fit the inputs schema of workflow "${active.workflow}": ${list}`,
      );
    }
    return input;
  }

  /** Starts the run `runId` unless it exists; `created` says which. */
  async start(
    active: ActiveTrigger,
    runId: string,
    input: unknown,
  ): Promise<{ readonly run: RunRecord; readonly created: boolean }> {
    const { store, clock, observer } = this.#services;
    const existing = await store.getRun(runId);
    if (existing) return { run: existing, created: false };
    let run: RunRecord;
    try {
      run = await this.#runner.startRun({ workflow: active.workflow, version: active.version, input, runId });
    } catch (error) {
      if (error instanceof InputRejected) {
        throw new InputRefused(`the mapped input does not fit the inputs schema: ${error.message}`);
      }
      throw error;
    }
    await store.triggers.recordTriggerFired(active.trigger.id, runId, clock());
    observer.triggerFired?.({ trigger: active.trigger.id, kind: active.trigger.kind });
    return { run, created: true };
  }

  /** A firing that failed: counted, kept as the trigger's last error, logged. */
  async failed(active: ActiveTrigger, reason: string): Promise<void> {
    const { store, clock, observer, logger } = this.#services;
    logger.warn({ trigger: active.trigger.id, reason }, "trigger failed");
    observer.triggerFailed?.({ trigger: active.trigger.id, kind: active.trigger.kind });
    await store.triggers.recordTriggerFailed(active.trigger.id, reason, clock());
  }
}
