import { randomUUID } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { ExecutionPlan, PlanNode } from "../compiler/index.ts";
import { leafOutputs, outputsContext } from "./context.ts";
import { decide, isComplete, runEnd } from "./decide.ts";
import { asExecutionError, ExecutionError, type NodeError } from "./errors.ts";
import { MAX_JSON_DEPTH, tooDeepAt } from "./json-depth.ts";
import { pinModels } from "./pinning.ts";
import { propagationOf } from "./propagation.ts";
import { RunEvents } from "./run-events.ts";
import type { EngineServices } from "./services.ts";
import {
  type ExecutionRecord,
  executionKey,
  type Outcome,
  type ParentLink,
  type RunRecord,
  TERMINAL_RUN,
} from "./store/records.ts";
import type { FinishResult } from "./store/store.ts";
import { nodeOf, taskFor } from "./tasks.ts";
import { evaluateTemplate } from "./template-eval.ts";
import { inSpan, SpanKind } from "./tracing.ts";
import { describeViolations, type Violation } from "./user-schemas.ts";

/**
 * The runner applies decisions through the ports: it starts runs, moves ready
 * nodes to the queue, ends skipped ones, and finishes runs. Workers call back
 * into it (`afterFinish`) whenever they end an execution. It holds no state of
 * its own beyond caches: everything it knows it reads from the Store, so any
 * number of processes can run it side by side.
 */
export class InputRejected extends Error {
  readonly violations: readonly Violation[];
  constructor(workflow: string, violations: readonly Violation[]) {
    super(
      `the input does not fit the inputs schema of workflow "${workflow}": ${describeViolations(violations)}`,
    );
    this.name = "InputRejected";
    this.violations = violations;
  }
}

/** Input nested past MAX_JSON_DEPTH is refused before anything clones or walks it. */
export function rejectTooDeep(workflow: string, input: unknown): void {
  const pointer = tooDeepAt(input);
  if (pointer !== undefined) {
    throw new InputRejected(workflow, [
      { path: pointer, message: `nests deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
  }
}

export interface StartRequest {
  readonly workflow: string;
  readonly version?: number;
  readonly input: unknown;
  readonly runId?: string;
  readonly parent?: ParentLink | null;
}

export class Runner {
  readonly events = new RunEvents();
  readonly #services: EngineServices;
  /** Aborts attempts in this process when their run is cancelled or times out. */
  readonly #runAborts = new LRUCache<string, AbortController>({ max: 10_000 });
  /** Runs this process saw end (how, and when), so an attempt that starts just after is aborted at once. */
  readonly #endedRuns = new LRUCache<string, { status: string; at: number }>({ max: 10_000 });

  constructor(services: EngineServices) {
    this.#services = services;
  }

  /**
   * The signal that aborts every attempt of the run in this process. `run` is
   * the record read when the attempt's execution was claimed: a run this
   * process saw end but that started again after (a retry, maybe in another
   * process) is not ended any more.
   */
  runSignal(run: Pick<RunRecord, "id" | "startedAt">): AbortSignal {
    const runId = run.id;
    const ended = this.#endedRuns.get(runId);
    if (ended && run.startedAt !== null && run.startedAt > ended.at) this.#endedRuns.delete(runId);
    else if (ended)
      return AbortSignal.abort(new ExecutionError("cancelled", `the run ended ${ended.status}`, false));
    let controller = this.#runAborts.get(runId);
    if (!controller) {
      controller = new AbortController();
      this.#runAborts.set(runId, controller);
    }
    return controller.signal;
  }

  /**
   * Starts a run: the input is checked against the workflow's inputs schema
   * (defaults applied) before anything is written, models are pinned, and the
   * root nodes are queued. In a span of its own, the root of the run's trace
   * (see tracing.ts).
   */
  startRun(request: StartRequest): Promise<RunRecord> {
    return inSpan(
      "pflow.run.start",
      () => ({ kind: SpanKind.PRODUCER, attributes: { "pflow.workflow": request.workflow } }),
      async (span) => {
        const run = await this.#startRun(request);
        span?.setAttributes({ "pflow.run.id": run.id, "pflow.workflow.version": run.workflow.version });
        return run;
      },
    );
  }

  async #startRun(request: StartRequest): Promise<RunRecord> {
    const { store, catalog, schemas, clock } = this.#services;
    const { plan, version } = await catalog.plan(request.workflow, request.version);
    rejectTooDeep(plan.workflow, request.input);
    const input = structuredClone(request.input ?? {});
    const violations = schemas.applyDefaultsAndValidate(plan.inputs, input);
    if (violations.length > 0) throw new InputRejected(plan.workflow, violations);
    const id = request.runId ?? randomUUID();
    const models = pinModels(id, plan.models, await catalog.models(plan.models));
    const now = clock();
    await store.createRun(
      {
        id,
        workflow: { name: plan.workflow, version },
        input,
        models,
        parent: request.parent ?? null,
        nodesTotal: plan.order.length,
        deadline: plan.timeoutMs === null ? null : now + plan.timeoutMs,
        createdAt: now,
      },
      plan.order,
    );
    const started = await store.transitionRun(id, ["pending"], { status: "running", startedAt: now });
    if (started) {
      this.#services.observer.runStarted(started);
      this.#services.logger.info(
        { runId: id, workflow: plan.workflow, version, parentRunId: request.parent?.runId },
        "run started",
      );
    }
    await this.advance(id, plan.roots);
    return started ?? ((await store.getRun(id)) as RunRecord);
  }

  /**
   * Considers `candidates` (nodes whose last dependency just finished): queues
   * those that should run, ends as skipped those that should not (which may make
   * further nodes candidates), and finishes the run when every node has.
   */
  async advance(runId: string, candidates: readonly string[]): Promise<void> {
    const { store } = this.#services;
    let next = [...candidates];
    while (next.length > 0) {
      const run = await store.getRun(runId);
      if (!run || TERMINAL_RUN.has(run.status)) return;
      const plan = await this.#plan(run);
      const involved = new Set(next);
      for (const id of next) for (const dep of plan.nodes[id]?.dependencies ?? []) involved.add(dep);
      const executions = await store.getExecutions(runId, { nodeIds: [...involved] });
      const statuses = Object.fromEntries(executions.map((e) => [e.nodeId, e.status]));
      const decision = decide(plan, { failing: run.failing, statuses }, next);
      next = [];
      await this.#dispatch(run, plan, decision.dispatch);
      for (const { nodeId, reason } of decision.skip) {
        const result = await this.#finishNode(
          run,
          plan,
          nodeId,
          { status: ["pending"] },
          { status: "skipped", reason },
        );
        if (result) next.push(...result.ready);
        if (result?.runComplete) await this.finishRun(runId);
      }
    }
  }

  /**
   * What a worker calls after it ended an execution. `outcome` is what the
   * finish wrote, when the caller has it (a map item's end is then not read back).
   */
  async afterFinish(
    run: RunRecord,
    plan: ExecutionPlan,
    execution: ExecutionRecord,
    result: FinishResult,
    outcome?: Outcome,
  ): Promise<void> {
    if (execution.item !== null) {
      await this.#afterItem(run, plan, execution, result, outcome);
      return;
    }
    if (result.ready.length > 0) await this.advance(run.id, result.ready);
    if (result.runComplete) await this.finishRun(run.id);
  }

  /**
   * Ends a node execution and propagates. A node of the plan that fails with
   * onError: fail makes the run failing in the same transition (a stale worker
   * whose finish is refused changes nothing); a map item's failure fails its
   * map instead, whose own onError then decides.
   */
  async finishExecution(
    run: RunRecord,
    plan: ExecutionPlan,
    execution: ExecutionRecord,
    expect: { status: ExecutionRecord["status"][]; token?: string },
    outcome: Outcome,
  ): Promise<FinishResult | null> {
    const node = nodeOf(plan, execution);
    const failsRun = outcome.status === "failed" && execution.item === null && node.onError === "fail";
    const result = await this.#services.store.finishExecution(
      execution.key,
      expect,
      failsRun ? { ...outcome, failsRun } : outcome,
      propagationOf(plan, execution.item === null ? execution.nodeId : null),
      this.#services.clock(),
    );
    if (result) {
      const startedAt = execution.startedAt;
      this.#services.observer.nodeFinished({
        run,
        execution,
        nodeType: node.type,
        cacheable: "cache" in node && node.cache !== null,
        outcome,
        durationMs: startedAt === null ? null : this.#services.clock() - startedAt,
      });
      await this.afterFinish(run, plan, execution, result, outcome);
    }
    return result;
  }

  /** Every node has finished: evaluate the outputs and end the run (once). */
  async finishRun(runId: string): Promise<void> {
    const { store, clock, config } = this.#services;
    const run = await store.getRun(runId);
    if (!run || TERMINAL_RUN.has(run.status)) return;
    const plan = await this.#plan(run);
    const executions = await store.getExecutions(runId);
    const end = runEnd(plan, run.failing, executions);
    let status = end.status;
    let output: unknown = null;
    let error: NodeError | null = end.status === "failed" ? end.error : null;
    if (status === "succeeded") {
      try {
        output =
          plan.outputs === null
            ? leafOutputs(plan, executions)
            : await evaluateTemplate(plan.outputs, outputsContext(run, executions), config.expressions);
      } catch (cause) {
        status = "failed";
        const failure = asExecutionError(cause);
        error = { code: "outputs", message: `the run's outputs could not be evaluated: ${failure.message}` };
      }
    }
    const ended = await store.transitionRun(runId, ["running"], {
      status,
      output,
      error,
      finishedAt: clock(),
    });
    if (ended) await this.#ended(ended);
  }

  /** Cancels a run that has not finished: its executions end cancelled, attempts in flight are aborted. */
  async cancelRun(runId: string, status: "cancelled" | "timed_out" = "cancelled"): Promise<RunRecord | null> {
    const { store, clock } = this.#services;
    const error: NodeError =
      status === "timed_out"
        ? { code: "timed_out", message: "the run reached its timeout" }
        : { code: "cancelled", message: "the run was cancelled" };
    const current = await store.getRun(runId);
    if (!current || TERMINAL_RUN.has(current.status)) return null;
    const waiting = await store.getExecutions(runId, { items: false });
    // The nodes first, so the run's history ends with the run's own end; then
    // again after it, for any a finish queued meanwhile (none, mostly).
    await store.cancelExecutions(runId, "cancelled", clock());
    const ended = await store.transitionRun(runId, ["pending", "running"], {
      status,
      error,
      finishedAt: clock(),
    });
    if (!ended) return null;
    await store.cancelExecutions(runId, "cancelled", clock());
    for (const execution of waiting) {
      if (execution.childRunId && execution.status === "running")
        await this.cancelRun(execution.childRunId, status);
    }
    await this.#ended(ended);
    return ended;
  }

  /** A map or workflow node waited past its own timeout: it fails, and its child run is cancelled. */
  async timeOutWaiting(execution: ExecutionRecord): Promise<void> {
    const run = await this.#services.store.getRun(execution.runId);
    if (!run || TERMINAL_RUN.has(run.status)) return;
    const plan = await this.#plan(run);
    const error = { code: "timeout", message: `node "${execution.nodeId}" reached its timeout` };
    const result = await this.finishExecution(
      run,
      plan,
      execution,
      { status: ["running"] },
      { status: "failed", error },
    );
    if (result && execution.childRunId) await this.cancelRun(execution.childRunId, "timed_out");
  }

  /**
   * Reruns a run that failed, was cancelled or timed out, from its failed
   * nodes: what succeeded is kept, everything else runs again.
   */
  async retryRun(runId: string): Promise<RunRecord | null> {
    const { store, clock } = this.#services;
    const run = await store.getRun(runId);
    if (!run || !["failed", "cancelled", "timed_out"].includes(run.status)) return null;
    const plan = await this.#plan(run);
    const executions = await store.getExecutions(runId);
    const succeeded = new Set(executions.filter((e) => e.status === "succeeded").map((e) => e.nodeId));
    const again = plan.order.filter((id) => !succeeded.has(id));
    const depsDone = Object.fromEntries(
      again.map((id) => [
        id,
        (plan.nodes[id] as PlanNode).dependencies.filter((dep) => succeeded.has(dep)).length,
      ]),
    );
    await store.resetExecutions(runId, again, depsDone, run.round + 1);
    const now = clock();
    const restarted = await store.transitionRun(runId, [run.status], {
      status: "running",
      output: null,
      error: null,
      finishedAt: null,
      startedAt: now,
      // A new round has the whole timeout again: the old deadline has passed for a timed-out run.
      deadline: plan.timeoutMs === null ? null : now + plan.timeoutMs,
    });
    if (!restarted) return null;
    this.#runAborts.delete(runId);
    this.#endedRuns.delete(runId);
    await this.reconcile(runId);
    return (await store.getRun(runId)) ?? restarted;
  }

  /**
   * Brings a run in line with its executions' statuses, whatever happened before
   * (a crash between steps, a rerun): queues what is ready, skips what must be,
   * finishes the run if every node has. Safe to call at any time, any number of
   * times, from any process.
   */
  async reconcile(runId: string): Promise<void> {
    const { store } = this.#services;
    const run = await store.getRun(runId);
    if (!run) return;
    if (run.status === "pending") {
      const started = await store.transitionRun(runId, ["pending"], {
        status: "running",
        startedAt: this.#services.clock(),
      });
      if (!started) return;
    } else if (run.status !== "running") {
      return;
    }
    const plan = await this.#plan(run);
    await this.advance(runId, plan.order);
    const executions = await store.getExecutions(runId, { items: false });
    const statuses = Object.fromEntries(executions.map((e) => [e.nodeId, e.status]));
    if (isComplete(plan, { statuses })) await this.finishRun(runId);
  }

  /** Queues nodes and hands them to the broker. */
  async #dispatch(run: RunRecord, plan: ExecutionPlan, nodeIds: readonly string[]): Promise<void> {
    if (nodeIds.length === 0) return;
    const { store, broker, clock } = this.#services;
    const queued = await store.queueExecutions(
      nodeIds.map((id) => executionKey(run.id, id)),
      clock(),
    );
    if (queued.length === 0) return;
    await broker.publish(queued.map((key) => taskFor(run.id, key, plan)));
  }

  async #finishNode(
    run: RunRecord,
    plan: ExecutionPlan,
    nodeId: string,
    expect: { status: ExecutionRecord["status"][] },
    outcome: Outcome,
  ): Promise<FinishResult | null> {
    return this.#services.store.finishExecution(
      executionKey(run.id, nodeId),
      expect,
      outcome,
      propagationOf(plan, nodeId),
      this.#services.clock(),
    );
  }

  /**
   * A map item ended: queue the next item, and when the last has ended, end the
   * map node: its output is every item's output in item order (null for an item
   * that failed with onError: continue, or was skipped). An item that failed
   * with onError: fail fails the map at once.
   */
  async #afterItem(
    run: RunRecord,
    plan: ExecutionPlan,
    item: ExecutionRecord,
    result: FinishResult,
    outcome: Outcome | undefined,
  ): Promise<void> {
    const { store, broker, clock } = this.#services;
    const node = plan.nodes[item.nodeId];
    if (node?.type !== "map" || !result.items) return;
    const map = await store.getExecution(executionKey(run.id, item.nodeId));
    if (map?.status !== "running") return; // the map ended already: an item failed, or its timeout
    // How the item ended: as just written, or else (the sweeper resuming it) as stored.
    const finished = outcome ?? (await store.getExecution(item.key));
    if (finished?.status === "failed" && node.node.onError === "fail") {
      const error = {
        code: "item-failed",
        message: `item ${item.item} failed: ${finished.error?.message ?? "unknown error"}`,
      };
      await this.finishExecution(run, plan, map, { status: ["running"] }, { status: "failed", error });
      return;
    }
    if (result.items.done < result.items.total) {
      const next = await store.queueNextItems(run.id, item.nodeId, 1, clock());
      if (next.length > 0) await broker.publish(next.map((key) => taskFor(run.id, key, plan)));
      return;
    }
    const items = await store.getItems(run.id, item.nodeId);
    const output = items.map((i) => (i.status === "succeeded" ? i.output : null));
    await this.finishExecution(run, plan, map, { status: ["running"] }, { status: "succeeded", output });
  }

  /** A run ended: wake waiters, drop local aborts, and finish the parent's node if it is a child run. */
  async #ended(run: RunRecord): Promise<void> {
    this.#endedRuns.set(run.id, { status: run.status, at: run.finishedAt ?? this.#services.clock() });
    this.#services.observer.runFinished(run);
    this.#services.logger.info(
      {
        runId: run.id,
        workflow: run.workflow.name,
        status: run.status,
        ...(run.error ? { error: run.error } : {}),
      },
      "run ended",
    );
    const controller = this.#runAborts.get(run.id);
    if (controller) {
      controller.abort(new ExecutionError("cancelled", `the run ended ${run.status}`, false));
      this.#runAborts.delete(run.id);
    }
    this.events.finished(run.id);
    if (!run.parent) return;
    const { store } = this.#services;
    const parentRun = await store.getRun(run.parent.runId);
    if (!parentRun || TERMINAL_RUN.has(parentRun.status)) return;
    const plan = await this.#plan(parentRun);
    const parentExecution = await store.getExecution(
      executionKey(run.parent.runId, run.parent.nodeId, run.parent.item),
    );
    if (!parentExecution) return;
    const outcome: Outcome =
      run.status === "succeeded"
        ? { status: "succeeded", output: run.output }
        : {
            status: "failed",
            error: {
              code: "child-run-failed",
              message:
                `sub-workflow run ${run.id} (${run.workflow.name}) ended ${run.status}: ${run.error?.message ?? ""}`.trim(),
            },
          };
    await this.finishExecution(parentRun, plan, parentExecution, { status: ["running"] }, outcome);
  }

  async #plan(run: RunRecord): Promise<ExecutionPlan> {
    return (await this.#services.catalog.plan(run.workflow.name, run.workflow.version)).plan;
  }
}
