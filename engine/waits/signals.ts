import { createHash, randomUUID } from "node:crypto";
import type { ExecutionPlan, PlanNode, TemplateNode } from "../../compiler/index.ts";
import { MAX_JSON_DEPTH, tooDeepAt } from "../json-depth.ts";
import type { Runner } from "../runner.ts";
import type { EngineServices } from "../services.ts";
import { type ExecutionRecord, type RunRecord, type SignalRecord, TERMINAL_RUN } from "../store/records.ts";
import type { Violation } from "../user-schemas.ts";

/**
 * Signals: named data sent to a run, which a `wait` node with that `signal`
 * takes as its output. A signal is stored first, then offered to the nodes
 * waiting for it; one sent before its node waits is kept, and the node takes
 * it when it starts waiting (the oldest first). Both sides write, then look
 * for the other, so whichever comes second delivers.
 *
 * Delivering is three steps, each a conditional write: the signal is taken by
 * the execution (consumeSignal), bound to it (bindSignal: one signal per
 * execution), and the execution finished with its data; then the signal is
 * settled (delivered, or released for the next wait if the node ended
 * otherwise, by its timeout say). A process that dies between steps leaves the
 * signal `new` or `consumed`, and any sweeper takes it from there
 * (repairSignals): nothing is lost or delivered twice.
 */
export class SignalRefused extends Error {
  readonly status: 400 | 404 | 409;
  readonly violations: readonly Violation[];
  constructor(status: 400 | 404 | 409, message: string, violations: readonly Violation[] = []) {
    super(message);
    this.name = "SignalRefused";
    this.status = status;
    this.violations = violations;
  }
}

export interface SignalRequest {
  readonly runId: string;
  readonly name: string;
  readonly data: unknown;
  /** Makes a retried send the same signal. */
  readonly idempotencyKey?: string | null;
}

/**
 * Sends a signal: checked against the schema of every wait node of the run's
 * workflow that waits for it (nothing is stored if one refuses it), stored,
 * and offered to the nodes waiting for it. The same idempotency key gives back
 * the signal it first sent, whatever the run's state since.
 */
export async function sendSignal(
  services: EngineServices,
  runner: Runner,
  request: SignalRequest,
): Promise<{ signal: SignalRecord; created: boolean }> {
  const { store, catalog, clock, schemas } = services;
  const run = await store.getRun(request.runId);
  if (!run) throw new SignalRefused(404, `run ${request.runId} does not exist`);
  const id = request.idempotencyKey ? signalIdOf(run.id, request.name, request.idempotencyKey) : randomUUID();
  if (request.idempotencyKey) {
    const sent = await store.waits.getSignal(id);
    if (sent) return { signal: sent, created: false };
  }
  if (TERMINAL_RUN.has(run.status))
    throw new SignalRefused(409, `run ${run.id} has ended (${run.status}): it takes no more signals`);
  const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
  const waits = waitNodesFor(plan, request.name);
  if (waits.length === 0) {
    const known = [...new Set(allWaitNodes(plan).map((node) => node.signal))];
    throw new SignalRefused(
      404,
      `workflow ${plan.workflow} has no wait node for signal "${request.name}"` +
        (known.length > 0 ? `; its signals are ${known.join(", ")}` : "; it waits for no signal"),
    );
  }
  const data = request.data ?? null;
  const tooDeep = tooDeepAt(data);
  if (tooDeep !== undefined)
    throw new SignalRefused(400, "the signal's data is refused", [
      { path: tooDeep, message: `nests deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
  for (const node of waits) {
    if (node.schema === null) continue;
    const violations = schemas.validate(node.schema, data);
    if (violations.length > 0)
      throw new SignalRefused(
        400,
        `the signal's data does not fit the schema of wait node "${node.id}"`,
        violations,
      );
  }
  const added = await store.waits.addSignal({
    id,
    runId: run.id,
    name: request.name,
    data,
    createdAt: clock(),
  });
  if (added.created) await offerSignal(services, runner, run, plan, added.signal);
  return added;
}

/**
 * Offers a stored (new) or released (kept) signal to the nodes waiting for it,
 * then marks a new one kept if none took it.
 */
async function offerSignal(
  services: EngineServices,
  runner: Runner,
  run: RunRecord,
  plan: ExecutionPlan,
  signal: SignalRecord,
): Promise<void> {
  const { store, clock } = services;
  for (const waiting of await store.waits.findWaitingForSignal(run.id, signal.name)) {
    // A node with a signal bound is taken by another delivery under way.
    if (waiting.signalId !== null) continue;
    await deliverSignal(services, runner, run, plan, waiting);
    const state = (await store.waits.getSignal(signal.id))?.state;
    if (state !== "new" && state !== "kept") return;
  }
  await store.waits.settleSignal(signal.id, "kept", clock());
}

/**
 * Delivers the oldest open signal of its name (or the one it already took) to
 * a waiting execution; true if the execution finished with it.
 */
export async function deliverSignal(
  services: EngineServices,
  runner: Runner,
  run: RunRecord,
  plan: ExecutionPlan,
  execution: ExecutionRecord,
): Promise<boolean> {
  const { store, clock } = services;
  if (execution.waitSignal === null) return false;
  const signal = await store.waits.consumeSignal(run.id, execution.waitSignal, execution.key, clock());
  if (!signal) return false;
  const bound = await store.waits.bindSignal(execution.key, signal.id, clock());
  if (bound !== signal.id) {
    // The node took another signal, or ended: this one waits for the next node.
    await release(services, runner, run, plan, signal);
    return false;
  }
  await runner.finishExecution(
    run,
    plan,
    execution,
    { status: ["waiting"] },
    { status: "succeeded", output: signal.data },
  );
  return settle(services, runner, run, plan, signal, await store.getExecution(execution.key));
}

/**
 * After a delivery: delivered if its node succeeded with it; released (for the
 * next wait) if the node ended otherwise (its timeout, the run's end) or was
 * reset by a rerun. Still waiting with it bound: the finish did not happen, and
 * the signal stays consumed for the sweeper to try again.
 */
async function settle(
  services: EngineServices,
  runner: Runner,
  run: RunRecord,
  plan: ExecutionPlan,
  signal: SignalRecord,
  execution: ExecutionRecord | null,
): Promise<boolean> {
  const bound = execution !== null && execution.signalId === signal.id;
  if (bound && execution.status === "succeeded") {
    await services.store.waits.settleSignal(signal.id, "delivered", services.clock());
    return true;
  }
  if (bound && execution.status === "waiting") return false;
  await release(services, runner, run, plan, signal);
  return false;
}

/** Gives a taken signal back, and offers it to the nodes of its name waiting now (none: it is kept). */
async function release(
  services: EngineServices,
  runner: Runner,
  run: RunRecord,
  plan: ExecutionPlan,
  signal: SignalRecord,
): Promise<void> {
  const released = await services.store.waits.settleSignal(signal.id, "released", services.clock());
  if (released && !TERMINAL_RUN.has(run.status)) await offerSignal(services, runner, run, plan, signal);
}

/**
 * The sweeper's part: signals a process left between steps, untouched since
 * `before`. A new one is offered again; a consumed one is delivered to its
 * consumer if that still waits (in a run still going), else settled by how its
 * consumer ended. One signal's failure is logged and left for the next pass:
 * it must not hold up the rest of the sweep.
 */
export async function repairSignals(
  services: EngineServices,
  runner: Runner,
  before: number,
  limit: number,
): Promise<void> {
  const { store, catalog, logger } = services;
  for (const signal of await store.waits.findUnsettledSignals(before, limit)) {
    try {
      const run = await store.getRun(signal.runId);
      if (!run) continue;
      const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
      if (signal.state === "new") {
        await offerSignal(services, runner, run, plan, signal);
        continue;
      }
      const consumer = signal.consumedBy === null ? null : await store.getExecution(signal.consumedBy);
      const stillWaits =
        consumer?.status === "waiting" &&
        consumer.waitSignal === signal.name &&
        !TERMINAL_RUN.has(run.status);
      if (stillWaits) await deliverSignal(services, runner, run, plan, consumer);
      else
        await settle(services, runner, run, plan, signal, consumer?.status === "waiting" ? null : consumer);
    } catch (error) {
      logger.warn(
        { err: error, signalId: signal.id, runId: signal.runId },
        "signal repair failed; will try again",
      );
    }
  }
}

/** The wait nodes (map templates included) that wait for signal `name`. */
function waitNodesFor(plan: ExecutionPlan, name: string) {
  return allWaitNodes(plan).filter((node) => node.signal === name);
}

type SignalWait = (PlanNode | TemplateNode) & { type: "wait"; signal: string };

function allWaitNodes(plan: ExecutionPlan): SignalWait[] {
  const found: SignalWait[] = [];
  for (const node of Object.values(plan.nodes)) {
    const target = node.type === "map" ? node.node : node;
    if (target.type === "wait" && target.signal !== null) found.push(target as SignalWait);
  }
  return found;
}

/** An idempotency key names one signal of one run: the same key, the same signal id. */
function signalIdOf(runId: string, name: string, key: string): string {
  return `sig-${createHash("sha256").update(`${runId}\n${name}\n${key}`).digest("hex").slice(0, 32)}`;
}
