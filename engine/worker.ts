import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_TIMEOUT_MS, type PlanNode, type TemplateNode } from "../compiler/index.ts";
import { retryDelayMs } from "./backoff.ts";
import type { Consumer, Delivery, Task } from "./broker/broker.ts";
import { expressionContext } from "./context.ts";
import { deadLetter } from "./dead-letters.ts";
import { whyNotStart } from "./decide.ts";
import { asExecutionError, ExecutionError } from "./errors.ts";
import type { AttemptExecutor, AttemptResult } from "./executors/attempt.ts";
import { withDoubles } from "./executors/doubles.ts";
import { startMap } from "./executors/map.ts";
import { modelReference, runModel } from "./executors/model.ts";
import { runPreprocess } from "./executors/preprocess.ts";
import { runTransform } from "./executors/transform.ts";
import { startWait } from "./executors/wait.ts";
import type { Claimed } from "./executors/waiting.ts";
import { startChild } from "./executors/workflow.ts";
import { locateExpressionError } from "./expression-error.ts";
import { redactRequest } from "./history/redact.ts";
import { tooDeepAt, tooDeepMessage } from "./json-depth.ts";
import { type CalledModel, ModelCallLimits } from "./limits/model-call-limits.ts";
import { MapDependencies } from "./map-dependencies.ts";
import type { Runner } from "./runner.ts";
import type { EngineServices } from "./services.ts";
import { type AttemptDetail, type Outcome, TERMINAL_RUN } from "./store/records.ts";
import { nodeOf, taskFor } from "./tasks.ts";
import { evaluateTemplate, truthy } from "./template-eval.ts";
import { annotateActiveSpan, contextOf, inSpan, SpanKind } from "./tracing.ts";
import { describeViolations } from "./user-schemas.ts";
import { WorkerActivity } from "./worker-activity.ts";

/**
 * A worker takes node tasks from the broker and runs them: claim the execution
 * (a lease), evaluate `when`, run the node, write the outcome, and hand the
 * consequences to the runner. A duplicate or stale delivery fails to claim and
 * is dropped. A failure is retried as state (the execution goes back to the
 * queue with a due time), never by sleeping here.
 */
const EXECUTORS: Readonly<Record<"model" | "preprocess" | "transform", AttemptExecutor>> = {
  model: withDoubles(runModel),
  preprocess: withDoubles(runPreprocess),
  transform: withDoubles(runTransform),
};

/** Nodes that start something and wait, holding no lease: their end comes from elsewhere. */
const WAITS: ReadonlySet<string> = new Set(["map", "workflow", "wait", "approval"]);

/** What an attempt did, filled in as it goes, for its history. */
interface AttemptTrace {
  request?: unknown;
  provider?: string;
  model?: string;
  startedAt?: number;
}

function detailOf(trace: AttemptTrace, retryable?: boolean): AttemptDetail {
  return {
    ...(trace.request !== undefined ? { request: trace.request } : {}),
    ...(trace.provider !== undefined ? { provider: trace.provider } : {}),
    ...(trace.model !== undefined ? { model: trace.model } : {}),
    ...(trace.startedAt !== undefined ? { startedAt: trace.startedAt } : {}),
    ...(retryable !== undefined ? { retryable } : {}),
  };
}

export class Worker {
  readonly #services: EngineServices;
  readonly #runner: Runner;
  /** Slots busy and leases held, read by /metrics. */
  readonly activity = new WorkerActivity();
  readonly #limits: ModelCallLimits;
  readonly #mapDependencies = new MapDependencies();
  #consumer: Consumer | undefined;
  #stopping = false;
  /** Aborts the attempts still running when a stop's grace period ends. */
  readonly #shutdown = new AbortController();

  constructor(services: EngineServices, runner: Runner) {
    this.#services = services;
    this.#runner = runner;
    this.#limits = new ModelCallLimits(services);
  }

  async start(): Promise<void> {
    this.#consumer = await this.#services.broker.consume((delivery) => this.handle(delivery), {
      concurrency: this.#services.config.concurrency,
    });
  }

  /**
   * Stops taking tasks and waits for those in hand, up to `shutdownGraceMs`;
   * attempts still running then are aborted and their executions released
   * (back to the queue, due now), so another worker takes them at once rather
   * than after their lease.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const grace = setTimeout(() => {
      this.#shutdown.abort(
        ExecutionError.retryable("worker-stopped", "the worker stopped before the attempt finished"),
      );
    }, this.#services.config.shutdownGraceMs);
    try {
      await this.#consumer?.stop();
    } finally {
      clearTimeout(grace);
    }
    this.#consumer = undefined;
  }

  /**
   * Handles one delivery, acked once the state is written. A failure that is
   * the task's own throws, and the broker redelivers it (and, past its delivery
   * limit, dead-letters it). But while the Store cannot be reached, every task
   * would fail, and none is to blame: the delivery is held (which also stops
   * more arriving, by the prefetch) until the Store answers, then handled again.
   */
  async handle(delivery: Delivery): Promise<void> {
    this.activity.slotsBusy++;
    try {
      await this.#handle(delivery);
    } finally {
      this.activity.slotsBusy--;
      this.activity.leases.delete(delivery.task);
    }
  }

  async #handle(delivery: Delivery): Promise<void> {
    for (;;) {
      try {
        await this.#traced(delivery);
        await delivery.ack();
        return;
      } catch (error) {
        if (this.#stopping || (await this.#storeAnswers())) throw error;
        this.#services.logger.warn(
          { err: error, key: delivery.task.key },
          "the store is unreachable: holding the task until it answers",
        );
        await this.#untilStoreAnswers();
      }
    }
  }

  /** Runs the task in the node's span, a child of the span that dispatched it. */
  #traced(delivery: Delivery): Promise<void> {
    const { task } = delivery;
    return inSpan(
      `pflow.node ${task.nodeId}`,
      () => ({
        kind: SpanKind.CONSUMER,
        parent: contextOf(task.trace),
        attributes: {
          "pflow.run.id": task.runId,
          "pflow.node.id": task.nodeId,
          "pflow.execution.key": task.key,
          "pflow.route": task.route,
          "messaging.message.delivery_count": delivery.deliveries,
        },
      }),
      () => this.run(task),
    );
  }

  async #storeAnswers(): Promise<boolean> {
    return this.#services.store.ping().then(
      () => true,
      () => false,
    );
  }

  async #untilStoreAnswers(): Promise<void> {
    for (let wait = 250; !this.#stopping; wait = Math.min(wait * 2, 5_000)) {
      await sleep(wait);
      if (await this.#storeAnswers()) return;
    }
    throw new Error("the worker stopped while the store was unreachable");
  }

  async run(task: Task): Promise<void> {
    const claimed = await this.#claim(task);
    if (!claimed) return;
    const { execution, run, plan, node } = claimed;
    const { maxDeliveries } = this.#services.config;
    if (execution.leasesLost >= maxDeliveries) {
      // A poison task: every worker that took it died or hung before finishing it.
      await deadLetter(
        this.#services,
        this.#runner,
        task,
        `the workers that took it died or stalled ${execution.leasesLost} times before finishing it ` +
          "(their leases expired): it may be what kills them",
        execution.leasesLost,
      );
      return;
    }
    if (TERMINAL_RUN.has(run.status)) {
      await this.#finish(claimed, { status: "cancelled" });
      return;
    }
    // A map's items are not nodes of the plan: the map's own end decides for them.
    const failFast = execution.item === null ? whyNotStart(node as PlanNode, plan, run.failing) : null;
    if (failFast !== null) {
      await this.#finish(claimed, { status: "skipped", reason: failFast });
      return;
    }
    const lease = this.#keepLease(claimed);
    let outcome: Outcome | undefined;
    const trace: AttemptTrace = {};
    try {
      // Reading the dependencies' outputs is not part of the node: if the store
      // fails here, the delivery fails (and comes again), the node does not.
      const context = await this.#context(claimed);
      let callsOut = false;
      let called: CalledModel | null = null;
      try {
        if (
          node.when !== null &&
          !truthy(await evaluateTemplate(node.when, context, this.#services.config.expressions))
        ) {
          outcome = { status: "skipped", reason: "its when condition was false" };
        } else if (WAITS.has(node.type)) {
          const finish = (done: Outcome) => this.#finish(claimed, done);
          const wait = { services: this.#services, runner: this.#runner, claimed, context, finish };
          if (node.type === "map") await startMap(wait);
          else if (node.type === "workflow") await startChild(wait);
          else await startWait(wait);
        } else {
          callsOut = true;
          called = await this.#calledModel(claimed);
          if (called) trace.model = called.pinned;
        }
      } catch (error) {
        await this.#failed(claimed, asExecutionError(error), trace);
        return;
      }
      // Waiting for a rate limit is not part of the node either (nor is its store's failure).
      const waits = AbortSignal.any([this.#runner.runSignal(run), this.#shutdown.signal]);
      if (callsOut && !(await this.#limits.heldBack(claimed, called, waits))) {
        try {
          outcome = await this.#attempt(claimed, context, lease.signal, called, trace);
        } catch (error) {
          await this.#failed(claimed, asExecutionError(error), trace);
          return;
        }
      }
    } finally {
      lease.stop();
    }
    // Writing the outcome is not part of the node either: a store that fails
    // here fails the delivery, and the outcome is not mistaken for the node's.
    if (outcome) await this.#finish(claimed, outcome);
  }

  async #claim(task: Task): Promise<Claimed | null> {
    const { store, catalog, clock, config } = this.#services;
    const token = randomUUID();
    const now = clock();
    const execution = await store.claimExecution(task.key, { token, until: now + config.leaseMs }, now);
    if (!execution) return null;
    // Held until its delivery is handled (finished, rescheduled, or waiting: released).
    this.activity.leases.add(task);
    const run = await store.getRun(execution.runId);
    if (!run) return null;
    const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
    return { execution, token, run, plan, node: nodeOf(plan, execution) };
  }

  /**
   * Renews the lease while an attempt runs longer than a third of it, and
   * aborts the attempt if its run ended meanwhile (cancelled or timed out by
   * another process: this one has no other way to hear of it).
   */
  #keepLease(claimed: Claimed): { readonly signal: AbortSignal; stop(): void } {
    const { store, clock, config } = this.#services;
    const { execution, token, run } = claimed;
    const controller = new AbortController();
    const timer = setInterval(() => {
      store
        .renewLease(execution.key, token, clock() + config.leaseMs)
        .then(async (held) => {
          const current = await store.getRun(run.id);
          if (!held || !current || TERMINAL_RUN.has(current.status)) {
            controller.abort(new ExecutionError("cancelled", "the run ended, or the lease was lost", false));
          }
        })
        .catch(() => {});
    }, config.leaseMs / 3);
    timer.unref();
    return { signal: controller.signal, stop: () => clearInterval(timer) };
  }

  async #context(claimed: Claimed): Promise<Record<string, unknown>> {
    const { execution, run, plan } = claimed;
    const owner = plan.nodes[execution.nodeId] as PlanNode;
    const read = () => this.#services.store.getExecutions(run.id, { nodeIds: owner.dependencies });
    const dependencies =
      owner.dependencies.length === 0
        ? []
        : execution.item === null
          ? await read()
          : await this.#mapDependencies.get(execution, read);
    const item = execution.item === null ? undefined : { value: execution.input, index: execution.item };
    return expressionContext(run, dependencies, item);
  }

  /** One attempt at a model, preprocess or transform node, bounded by its timeout: its outcome. */
  async #attempt(
    claimed: Claimed,
    context: Record<string, unknown>,
    leaseSignal: AbortSignal,
    called: CalledModel | null,
    trace: AttemptTrace,
  ): Promise<Outcome> {
    const { node, run, plan, execution } = claimed;
    const executor = EXECUTORS[node.type as keyof typeof EXECUTORS];
    const timeoutMs = node.timeoutMs ?? called?.model.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // A timer of our own, cleared when the attempt ends: AbortSignal.timeout's
    // timer would live on (and hold the signal) for the whole timeout.
    const timeout = new AbortController();
    const timer = setTimeout(() => {
      timeout.abort(new DOMException(`the attempt took longer than ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
    const signal = AbortSignal.any([
      timeout.signal,
      this.#runner.runSignal(run),
      leaseSignal,
      this.#shutdown.signal,
    ]);
    const sends = (request: unknown, provider?: string) => {
      trace.request = redactRequest(request);
      if (provider !== undefined) trace.provider = provider;
    };
    const execute = () =>
      executor({ services: this.#services, run, plan, node, execution, context, signal, sends });
    let result: AttemptResult;
    try {
      result = await this.#limits.call(called, execute, (at) => {
        trace.startedAt = at;
      });
    } finally {
      clearTimeout(timer);
    }
    // Before anything stores, clones or validates it: see json-depth.ts.
    const tooDeep = tooDeepAt(result.output);
    if (tooDeep !== undefined) {
      throw ExecutionError.nonRetryable(
        "output-too-deep",
        tooDeepMessage(`the output of node "${node.id}"`, tooDeep),
      );
    }
    if (node.type !== "model") this.#checkOutput(node, result);
    return {
      status: "succeeded",
      output: result.output,
      cached: result.cached,
      model: result.model ?? null,
      usage: result.usage ?? null,
      cost: result.cost ?? null,
      attempt: detailOf(trace),
    };
  }

  /** outputSchema: for a model node a retryable error (checked in its executor); here not retryable. */
  #checkOutput(node: PlanNode | TemplateNode, result: AttemptResult): void {
    const violations = this.#services.schemas.validate(node.outputSchema, result.output);
    if (violations.length > 0) {
      throw ExecutionError.nonRetryable(
        "output-schema",
        `the output of node "${node.id}" breaks its outputSchema: ${describeViolations(violations)}`,
      );
    }
  }

  /**
   * The model version this attempt calls (the node's model, or the fallback
   * being tried), as pinned in the run, with its model's settings; null for
   * nodes that call no model. Read once per attempt, for the rate limit, the
   * timeout, the breaker and the token charge alike.
   */
  async #calledModel(claimed: Claimed): Promise<CalledModel | null> {
    const { node, run, execution } = claimed;
    if (node.type !== "model") return null;
    const pinned = run.models[modelReference(node, execution.modelIndex)];
    if (pinned === undefined) return null;
    return { pinned, model: (await this.#services.catalog.modelVersion(pinned)).model };
  }

  /**
   * After a failed attempt: another attempt at the same model if the error is
   * retryable and attempts are left (due after the backoff), else the next
   * fallback model, else the node fails.
   */
  async #failed(claimed: Claimed, thrown: ExecutionError, trace: AttemptTrace = {}): Promise<void> {
    const { node, execution, token, run, plan } = claimed;
    const { store, broker, clock } = this.#services;
    const error = await locateExpressionError(thrown, { store, workflow: run.workflow, nodeId: node.id });
    const attempt = detailOf(trace, error.retryable);
    if (this.#shutdown.signal.aborted) {
      // Released, not failed: back to the queue now, for another worker.
      const now = clock();
      const reason = this.#shutdown.signal.reason as ExecutionError;
      const next = { notBefore: now, error: reason.toJSON(), attempt: detailOf(trace, true) };
      if (await store.rescheduleExecution(execution.key, token, next, now))
        await broker.publish([taskFor(run.id, execution.key, plan)]);
      return;
    }
    if (error.code === "cancelled" || TERMINAL_RUN.has((await store.getRun(run.id))?.status ?? "running")) {
      await this.#finish(claimed, { status: "cancelled", error: error.toJSON(), attempt });
      return;
    }
    const now = clock();
    // An open circuit breaker sends the call straight to the next fallback, if any is left.
    const skipToFallback =
      error.code === "circuit-open" && node.type === "model" && execution.modelIndex < node.fallback.length;
    const retry = !skipToFallback && error.retryable && execution.attempt < node.retry.maxAttempts;
    const fallback = !retry && node.type === "model" && execution.modelIndex < node.fallback.length;
    if (retry || fallback) {
      const delayMs = retry ? retryDelayMs(node.retry, execution.attempt) : 0;
      const next = {
        notBefore: now + delayMs,
        error: error.toJSON(),
        attempt,
        ...(fallback
          ? {
              modelIndex: execution.modelIndex + 1,
              fallbackModel:
                node.type === "model"
                  ? (run.models[modelReference(node, execution.modelIndex + 1)] ?? null)
                  : null,
            }
          : {}),
      };
      if (await store.rescheduleExecution(execution.key, token, next, now)) {
        this.#services.observer.retryScheduled({ run, execution, nodeType: node.type, code: error.code });
        await broker.publish([taskFor(run.id, execution.key, plan)], delayMs > 0 ? { delayMs } : {});
      }
      return;
    }
    this.#services.logger.info(
      { runId: run.id, nodeId: execution.nodeId, item: execution.item, error: error.toJSON() },
      "node failed",
    );
    await this.#finish(claimed, { status: "failed", error: error.toJSON(), attempt });
  }

  async #finish(claimed: Claimed, outcome: Outcome): Promise<void> {
    const { run, plan, execution, token, node } = claimed;
    annotateActiveSpan(() => ({
      "pflow.node.type": node.type,
      "pflow.node.status": outcome.status,
      "pflow.attempt": execution.attempt,
      ...(outcome.model ? { "pflow.model": outcome.model } : {}),
      ...(outcome.error ? { "pflow.error.code": outcome.error.code } : {}),
    }));
    await this.#runner.finishExecution(run, plan, execution, { status: ["running"], token }, outcome);
  }
}
