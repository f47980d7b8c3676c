import type { Task } from "./broker/broker.ts";
import type { Runner } from "./runner.ts";
import type { EngineServices } from "./services.ts";
import { TERMINAL_EXECUTION, TERMINAL_RUN } from "./store/records.ts";

/**
 * A task given up on (its handling kept failing, or it kept killing the worker
 * that ran it) is kept as a dead letter, and its execution fails with the
 * reason, so the run ends instead of hanging; `/v1/dead-letters` shows it and
 * can replay it.
 *
 * Delivery is at least once here too: the same dead letter may be handed over
 * twice (a process died between recording it and acking it). An execution that
 * has already ended is therefore neither recorded again nor failed. And a task
 * whose run cannot be planned any more (its workflow version is gone: often why
 * it was poison) still fails its run, directly.
 */
export async function deadLetter(
  services: EngineServices,
  runner: Runner,
  task: Task,
  reason: string,
  deliveries: number,
): Promise<void> {
  const { store, clock, catalog, observer, logger } = services;
  const execution = await store.getExecution(task.key);
  if (execution && TERMINAL_EXECUTION.has(execution.status)) return;
  observer.deadLettered(task);
  const now = clock();
  await store.addDeadLetter({
    id: `${task.key}@${now}`,
    executionKey: task.key,
    runId: task.runId,
    nodeId: task.nodeId,
    reason,
    deliveries,
    createdAt: now,
  });
  const run = await store.getRun(task.runId);
  if (!execution || !run || TERMINAL_RUN.has(run.status)) return;
  const error = { code: "dead-lettered", message: `delivery failed ${deliveries} times: ${reason}` };
  let plan: Awaited<ReturnType<typeof catalog.plan>>["plan"];
  try {
    ({ plan } = await catalog.plan(run.workflow.name, run.workflow.version));
  } catch (cause) {
    logger.error(
      { err: cause, runId: run.id },
      "dead letter of a run that cannot be planned: failing the run",
    );
    await store.finishExecution(
      task.key,
      { status: ["pending", "queued", "running"] },
      { status: "failed", error },
      { dependents: [], dependencyCounts: {} },
      now,
    );
    await store.transitionRun(run.id, ["pending", "running"], { status: "failed", error, finishedAt: now });
    return;
  }
  await runner.finishExecution(
    run,
    plan,
    execution,
    { status: ["pending", "queued", "running"] },
    {
      status: "failed",
      error,
    },
  );
}
