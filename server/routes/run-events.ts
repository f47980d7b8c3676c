import type { OutgoingHttpHeaders } from "node:http";
import type { FastifyBaseLogger, FastifyReply } from "fastify";
import type { DeltaSubscription } from "../../engine/broker/broker.ts";
import type { Engine } from "../../engine/engine.ts";
import { endsRun, historyEventJson } from "../../engine/history/events.ts";
import type { Following, HistoryFollowers } from "../../engine/history/followers.ts";
import { TERMINAL_RUN } from "../../engine/store/records.ts";
import { DeltaRelay, planStreams } from "./run-deltas.ts";

/**
 * GET /v1/runs/{id}/events: server-sent events served from the run's history
 * (engine/history): every run, node and attempt event of every round, each
 * with its sequence number as its event id, then live; the stream closes after
 * the event that ends the run. `Last-Event-ID` (or `?lastEventId=`) resumes
 * exactly after that event. A client connecting after the run ended gets the
 * whole history, then the stream closes.
 *
 * Watching costs the store nothing per client: the clients of a run share one
 * follower per process (HistoryFollowers), which reads the run's history once
 * for all of them.
 *
 * While the run is open, the text of its streaming model nodes comes too, as
 * node.delta events relayed from the Broker (see run-deltas.ts): pushed, not
 * read from the history, and with no event id, as they are not kept anywhere
 * to be replayed.
 */
/** Proxies close connections that stay silent; a comment line keeps them open. */
const KEEP_ALIVE_MS = 15_000;
/** A client whose socket holds this much unsent is not keeping up: deltas for it are dropped, history events are not. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

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
 * first, so an unknown run is an ordinary 404), from after event `after`.
 * `shutdown` ends the stream when the server closes, which would otherwise
 * wait for the run to end.
 */
export async function streamRunEvents(
  engine: Engine,
  followers: HistoryFollowers,
  runId: string,
  after: number,
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

  const finished = Promise.withResolvers<void>();
  let closed = false;
  const close = () => {
    closed = true;
    finished.resolve();
  };
  response.on("close", close);
  shutdown.addEventListener("abort", close);
  const keepAlive = setInterval(() => {
    if (!closed) response.write(": keep-alive\n\n");
  }, KEEP_ALIVE_MS);

  let following: Following | undefined;
  const relay = new DeltaRelay(
    (data) => {
      if (!closed) response.write(`event: node.delta\ndata: ${JSON.stringify(data)}\n\n`);
    },
    () => response.writableLength < MAX_BUFFERED_BYTES,
    () => following?.wake(),
  );
  // Whether the last run event sent ends the run; a client resuming after it
  // has not been sent it, so the run's status starts it off.
  const run = await engine.services.store.getRun(runId);
  let ended = run !== null && TERMINAL_RUN.has(run.status);
  following = followers.follow(runId, after, {
    events(batch) {
      if (closed) return;
      response.write(
        batch
          .map(
            (event) =>
              `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(historyEventJson(event))}\n\n`,
          )
          .join(""),
      );
      for (const event of batch) {
        // A retry reopens the run: only the last run event says whether it has ended.
        if (event.type.startsWith("run.")) ended = endsRun(event.type);
        if (event.nodeId !== null && event.item === null && event.type.startsWith("node."))
          relay.nodeReported(event.nodeId, event.type.slice(5), event.attempt ?? 0);
      }
      relay.release();
    },
    caughtUp() {
      if (ended) close();
    },
    failed(error) {
      // Headers are sent: no problem reply is possible any more; the stream just ends.
      reply.log.error({ err: error, runId }, "run event stream failed");
      close();
    },
  });

  const deltas = await subscribeToDeltas(engine, runId, relay, reply.log);
  try {
    await finished.promise;
  } finally {
    following.close();
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
