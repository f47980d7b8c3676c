import type { OutgoingHttpHeaders } from "node:http";
import type { FastifyBaseLogger, FastifyReply } from "fastify";
import type { DeltaSubscription } from "../../engine/broker/broker.ts";
import type { Engine } from "../../engine/engine.ts";
import {
  type ExecutionRecord,
  type RunRecord,
  TERMINAL_EXECUTION,
  TERMINAL_RUN,
} from "../../engine/store/records.ts";
import { DeltaRelay, planStreams } from "./run-deltas.ts";

/**
 * GET /v1/runs/{id}/events: server-sent events, one per run and node state
 * change, from the start of the run, closing after the run's final event.
 *
 * The engine keeps no event log (state lives in the run and execution records,
 * and any process may change it), so the stream is derived from those records:
 * the first snapshot yields the history a record implies (a node that has
 * `startedAt` and has finished was running, then finished), later snapshots
 * yield what changed. Snapshots are taken every POLL_MS, and at once when the
 * run ends in this process. A client connecting after the run ended gets the
 * whole history and the stream closes.
 *
 * While the run is open, the text of its streaming model nodes comes too, as
 * node.delta events relayed from the Broker (see run-deltas.ts): pushed, not
 * polled, and with no event id, as they are not kept anywhere to be replayed.
 */
const POLL_MS = 100;
/** Proxies close connections that stay silent; a comment line keeps them open. */
const KEEP_ALIVE_MS = 15_000;
/**
 * Cancelling ends the run before its executions: the run's final event waits
 * this long at most for them, so their node.cancelled events come first.
 */
const SETTLE_MS = 1_000;
/** A client whose socket holds this much unsent is not keeping up: deltas for it are dropped, state events are not. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface RunEventData {
  readonly runId: string;
  readonly nodeId?: string;
  readonly status: string;
  readonly at: string;
  readonly attempts?: number;
  readonly output?: unknown;
  readonly error?: unknown;
}

interface RunEvent {
  readonly name: string;
  readonly data: RunEventData;
}

/** A state a record went through: `key` tells one pass through a state from the next. */
interface Step {
  readonly status: string;
  readonly at: number;
  readonly key: string;
}

/** The states a node's record implies it went through, ending with its current one. */
function nodeSteps(execution: ExecutionRecord): Step[] {
  const step = (status: string, at: number): Step => ({
    status,
    at,
    key: `${status}/${execution.attemptsTotal}`,
  });
  switch (execution.status) {
    case "pending":
      return [];
    case "queued":
      return [step("queued", execution.updatedAt)];
    case "running":
      return [step("running", execution.startedAt ?? execution.updatedAt)];
    default: {
      const end = step(execution.status, execution.finishedAt ?? execution.updatedAt);
      return execution.startedAt === null ? [end] : [step("running", execution.startedAt), end];
    }
  }
}

/** Likewise for the run; a rerun starts again (a new startedAt), so it is a new pass. */
function runSteps(run: RunRecord): Step[] {
  const step = (status: string, at: number): Step => ({ status, at, key: `${status}/${run.startedAt}` });
  if (run.status === "pending") return [];
  const running = step("running", run.startedAt ?? run.createdAt);
  if (run.status === "running") return [running];
  const end = step(run.status, run.finishedAt ?? run.createdAt);
  return run.startedAt === null ? [end] : [running, end];
}

/**
 * What each subject (the run, a node) was last reported as, so a snapshot
 * yields only what is new: the steps after the last one reported, or every
 * step when the last one reported is not among them (the record moved on
 * through states no snapshot saw, or went back, as a retried attempt does).
 */
class Reported {
  readonly #last = new Map<string, string>();

  newSteps(subject: string, steps: readonly Step[]): Step[] {
    if (steps.length === 0) return [];
    const last = this.#last.get(subject);
    const seen = steps.findIndex((step) => step.key === last);
    this.#last.set(subject, (steps.at(-1) as Step).key);
    return steps.slice(seen + 1);
  }
}

function nodeEvent(execution: ExecutionRecord, step: Step): RunEvent {
  return {
    name: `node.${step.status}`,
    data: {
      runId: execution.runId,
      nodeId: execution.nodeId,
      status: step.status,
      at: new Date(step.at).toISOString(),
      attempts: execution.attemptsTotal,
      ...outcomeOf(step.status, execution.output, execution.error),
    },
  };
}

function runEvent(run: RunRecord, step: Step): RunEvent {
  return {
    name: `run.${step.status}`,
    data: {
      runId: run.id,
      status: step.status,
      at: new Date(step.at).toISOString(),
      ...outcomeOf(step.status, run.output, run.error),
    },
  };
}

/** The output of a success, the error of a failure, with the event that reports it. */
function outcomeOf(status: string, output: unknown, error: unknown): Partial<RunEventData> {
  if (status === "succeeded") return { output };
  if (["failed", "cancelled", "timed_out"].includes(status) && error !== null) return { error };
  return {};
}

/**
 * Follows one run: yields its events in time order, the run's final event
 * last, and returns after it (or when `stopped` says the client is gone).
 */
async function followRun(
  engine: Engine,
  runId: string,
  send: (events: readonly RunEvent[]) => void,
  stopped: () => boolean,
  wakeup: Wakeup,
): Promise<void> {
  const { store, clock } = engine.services;
  const reported = new Reported();
  let endedSeenAt: number | null = null;
  while (!stopped()) {
    const run = await store.getRun(runId);
    if (!run) return;
    const executions = await store.getExecutions(runId, { items: false });
    const ended = TERMINAL_RUN.has(run.status);
    if (ended) endedSeenAt ??= clock();
    const settled = executions.every((execution) => TERMINAL_EXECUTION.has(execution.status));
    const final = ended && (settled || clock() - (endedSeenAt as number) >= SETTLE_MS);

    const steps = runSteps(run);
    const runStart = ended ? steps.slice(0, -1) : steps;
    const changes = [
      ...reported
        .newSteps("run", runStart)
        .map((step) => ({ event: runEvent(run, step), at: step.at, rank: 0 })),
      ...executions.flatMap((execution) =>
        reported
          .newSteps(`node:${execution.nodeId}`, nodeSteps(execution))
          .map((step) => ({ event: nodeEvent(execution, step), at: step.at, rank: 1 })),
      ),
    ].sort((a, b) => a.at - b.at || a.rank - b.rank);
    const events = changes.map((change) => change.event);
    if (final) events.push(...reported.newSteps("run", steps).map((step) => runEvent(run, step)));
    send(events);
    if (final) return;
    await Promise.race([engine.runner.events.waitFor(runId, POLL_MS), wakeup.next()]);
  }
}

/** Cuts a wait between snapshots short: `next()` resolves at the next `wake()`, or at once if one came meanwhile. */
class Wakeup {
  #resolve: (() => void) | null = null;
  #woken = false;

  readonly wake = (): void => {
    if (this.#resolve === null) this.#woken = true;
    this.#resolve?.();
    this.#resolve = null;
  };

  next(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }
}

/** Subscribes the relay to the run's deltas, if the run is open and streams; a Broker that cannot is logged, not fatal. */
async function subscribeToDeltas(
  engine: Engine,
  runId: string,
  relay: DeltaRelay,
  log: FastifyBaseLogger,
): Promise<DeltaSubscription | null> {
  const { store, catalog, broker } = engine.services;
  try {
    const run = await store.getRun(runId);
    if (!run || TERMINAL_RUN.has(run.status)) return null;
    const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
    if (!planStreams(plan)) return null;
    return await broker.subscribeDeltas(runId, (delta) => relay.accept(delta));
  } catch (error) {
    log.warn({ err: error, runId }, "cannot relay the run's streamed text; its events go on without it");
    return null;
  }
}

/**
 * Answers with the event stream of a run that exists (the route checks that
 * first, so an unknown run is an ordinary 404). `shutdown` ends the stream when
 * the server closes, which would otherwise wait for the run to end.
 */
export async function streamRunEvents(
  engine: Engine,
  runId: string,
  reply: FastifyReply,
  shutdown: AbortSignal,
): Promise<void> {
  const response = reply.raw;
  reply.hijack();
  response.writeHead(200, {
    // Headers set so far (the rate limit's), kept.
    ...(reply.getHeaders() as OutgoingHttpHeaders),
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    // nginx buffers responses unless told not to, which would hold events back.
    "x-accel-buffering": "no",
  });
  response.flushHeaders();

  let closed = false;
  const close = () => {
    closed = true;
  };
  response.on("close", close);
  shutdown.addEventListener("abort", close);
  const keepAlive = setInterval(() => {
    if (!closed) response.write(": keep-alive\n\n");
  }, KEEP_ALIVE_MS);

  const wakeup = new Wakeup();
  const relay = new DeltaRelay(
    (data) => {
      if (!closed) response.write(`event: node.delta\ndata: ${JSON.stringify(data)}\n\n`);
    },
    () => response.writableLength < MAX_BUFFERED_BYTES,
    wakeup.wake,
  );
  let sequence = 0;
  const send = (events: readonly RunEvent[]) => {
    if (closed) return;
    if (events.length > 0) {
      const text = events
        .map((event) => `id: ${++sequence}\nevent: ${event.name}\ndata: ${JSON.stringify(event.data)}\n\n`)
        .join("");
      response.write(text);
    }
    for (const { data } of events) {
      if (data.nodeId !== undefined) relay.nodeReported(data.nodeId, data.status, data.attempts ?? 0);
    }
    relay.release();
  };

  const deltas = await subscribeToDeltas(engine, runId, relay, reply.log);
  try {
    await followRun(engine, runId, send, () => closed, wakeup);
  } catch (error) {
    // Headers are sent: no problem reply is possible any more; the stream just ends.
    reply.log.error({ err: error, runId }, "run event stream failed");
  } finally {
    await deltas?.close().catch(() => {});
    clearInterval(keepAlive);
    response.off("close", close);
    shutdown.removeEventListener("abort", close);
    // The server is closing: it waits for connections to end, and this one would
    // otherwise sit idle until its keep-alive timeout.
    const socket = response.socket;
    const release = () => {
      if (shutdown.aborted) socket?.destroy();
    };
    if (response.writableEnded) release();
    else response.end(release);
  }
}
