import type { FastifyInstance } from "fastify";
import { HistoryFollowers } from "../../engine/history/followers.ts";
import { runCost } from "../../engine/run-view.ts";
import type { StartRequest } from "../../engine/runner.ts";
import { type RunRecord, type RunStatus, TERMINAL_RUN } from "../../engine/store/records.ts";
import runsSchema from "../../schemas/api/runs.schema.json" with { type: "json" };
import type { RoutePlugin } from "../app.ts";
import { apiCursorOf, storeCursorOf } from "../cursors.ts";
import { addJsonBodyParser } from "../json-body.ts";
import { Problem } from "../problems.ts";
import { startRunOnce, startRunOrNotFound } from "../run-starts.ts";
import { streamRunEvents } from "./run-events.ts";
import { runHistoryRoutes } from "./run-history.ts";
import { existingRun, jsonReply, problemReplies, ref, runIdParams, runNotFound } from "./run-replies.ts";

/**
 * The runs routes: start a run (idempotently with an Idempotency-Key, and
 * optionally waiting for its end), read one, list them, cancel, retry, and
 * follow one as server-sent events. Bodies and replies are declared in
 * schemas/api/runs.schema.json, which the OpenAPI document is built from.
 */

/** A concurrent request holding the same Idempotency-Key has this long to create its run. */
const MAX_WAIT_S = 60;

/** schemas/common.schema.json#/$defs/name */
const workflowName = {
  description: "A workflow name.",
  type: "string",
  pattern: "^[a-z][a-z0-9-]{0,62}$",
} as const;

const workflowNameParams = {
  type: "object",
  required: ["name"],
  properties: { name: workflowName },
} as const;

export const runRoutes: RoutePlugin = async (app, { engine }) => {
  app.addSchema(runsSchema);
  acceptJsonBodiesOnly(app);
  // Event streams last as long as their run; end them when the server closes instead.
  const shutdown = new AbortController();
  // One follower per open run in this process, whatever the number of its clients.
  const followers = new HistoryFollowers(engine.services.store);
  app.addHook("preClose", async () => {
    shutdown.abort();
    followers.close();
  });
  runHistoryRoutes(app, engine);

  app.post<{
    Params: { name: string };
    Querystring: { wait?: number };
    Headers: { "idempotency-key"?: string };
    Body: { input?: Record<string, unknown>; version?: number };
  }>(
    "/v1/workflows/:name/runs",
    {
      config: { scope: "runs:write" },
      // No body at all is a start without input, as `{}` is.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: "Start a run",
        description:
          "Starts a run of the workflow (its latest version, or `version`). With an `Idempotency-Key` " +
          "header, a repeated request answers with the run the key started instead of starting another. " +
          `With \`?wait=S\` (at most ${MAX_WAIT_S}) it waits up to S seconds: 200 with the finished run, ` +
          "or 202 if it is still going.",
        tags: ["runs"],
        operationId: "startRun",
        params: workflowNameParams,
        querystring: {
          type: "object",
          properties: {
            wait: {
              description: "Seconds to wait for the run to finish.",
              type: "number",
              minimum: 0,
              maximum: MAX_WAIT_S,
            },
          },
          additionalProperties: false,
        },
        headers: {
          type: "object",
          properties: {
            "idempotency-key": {
              description: "Printable characters; the same key answers with the same run.",
              type: "string",
              minLength: 1,
              maxLength: 200,
              pattern: "^[\\x20-\\x7E]+$",
            },
          },
        },
        body: ref("startRun"),
        response: {
          200: jsonReply("The run finished within `wait`.", "run"),
          202: jsonReply(
            "The run started (or the key's run, for a repeated Idempotency-Key).",
            "runAccepted",
          ),
          ...problemReplies(
            "bad-request",
            "invalid-input",
            "not-found",
            "conflict",
            "payload-too-large",
            "unsupported-media-type",
          ),
        },
      },
    },
    async (request, reply) => {
      const start: StartRequest = {
        workflow: request.params.name,
        input: request.body.input ?? {},
        ...(request.body.version === undefined ? {} : { version: request.body.version }),
      };
      const key = request.headers["idempotency-key"];
      const started = await startRunOrNotFound(
        () => (key === undefined ? engine.startRun(start) : startRunOnce(engine, key, start)),
        { store: engine.services.store, workflow: start.workflow },
      );
      const waitS = request.query.wait;
      if (waitS !== undefined) {
        const run = await engine.waitForRun(started.id, waitS * 1000);
        if (run && TERMINAL_RUN.has(run.status)) return reply.code(200).send(await engine.runJson(run.id));
      }
      return reply.code(202).send({ id: started.id, status: started.status, workflow: started.workflow });
    },
  );

  app.get<{ Params: { id: string } }>(
    "/v1/runs/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "Get a run",
        description: "The run with its input, output, pinned models, usage and every node.",
        tags: ["runs"],
        operationId: "getRun",
        params: runIdParams,
        response: { 200: jsonReply("The run.", "run"), ...problemReplies("bad-request", "not-found") },
      },
    },
    async (request) => {
      const run = await engine.runJson(request.params.id);
      if (!run) throw runNotFound(request.params.id);
      return run;
    },
  );

  app.get<{ Querystring: { workflow?: string; status?: RunStatus; limit: number; cursor?: string } }>(
    "/v1/runs",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List runs",
        description:
          "Runs, newest first, as summaries (no input, output, models or nodes: GET /v1/runs/{id} has " +
          "those). Pass `next` as `cursor` for the following page.",
        tags: ["runs"],
        operationId: "listRuns",
        querystring: {
          type: "object",
          properties: {
            workflow: { ...workflowName, description: "Only runs of this workflow." },
            status: { ...runsSchema.$defs.runStatus, description: "Only runs in this status." },
            limit: { description: "Runs per page.", type: "integer", minimum: 1, maximum: 100, default: 20 },
            cursor: { description: "The `next` of the previous page.", type: "string", maxLength: 500 },
          },
          additionalProperties: false,
        },
        response: { 200: jsonReply("A page of runs.", "runPage"), ...problemReplies("bad-request") },
      },
    },
    async (request) => {
      const { workflow, status, limit, cursor } = request.query;
      const page = await engine.services.store.listRuns({
        limit,
        cursor: cursor === undefined ? null : storeCursorOf(cursor),
        ...(workflow === undefined ? {} : { workflow }),
        ...(status === undefined ? {} : { status }),
      });
      return { items: page.items.map(runSummary), next: page.next === null ? null : apiCursorOf(page.next) };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/v1/runs/:id/cancel",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Cancel a run",
        description:
          "Ends a run that has not finished: its unfinished nodes end cancelled and attempts in flight are aborted.",
        tags: ["runs"],
        operationId: "cancelRun",
        params: runIdParams,
        response: {
          202: jsonReply("The run is cancelled.", "runState"),
          ...problemReplies("bad-request", "not-found", "conflict"),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await existingRun(engine, id);
      const cancelled = await engine.runner.cancelRun(id);
      if (!cancelled) {
        const run = await existingRun(engine, id);
        throw new Problem("conflict", `run ${id} already finished: ${run.status}`);
      }
      return reply.code(202).send({ id, status: cancelled.status });
    },
  );

  app.post<{ Params: { id: string } }>(
    "/v1/runs/:id/retry",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Retry a run",
        description:
          "Reruns a failed, cancelled or timed-out run from its failed nodes under the same id: what " +
          "succeeded is kept, every other node runs again, with the same pinned models.",
        tags: ["runs"],
        operationId: "retryRun",
        params: runIdParams,
        response: {
          202: jsonReply("The run is running again.", "runState"),
          ...problemReplies("bad-request", "not-found", "conflict"),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await existingRun(engine, id);
      const restarted = await engine.runner.retryRun(id);
      if (!restarted) {
        const run = await existingRun(engine, id);
        throw new Problem(
          "conflict",
          `run ${id} is ${run.status}; only failed, cancelled or timed-out runs can be retried`,
        );
      }
      return reply.code(202).send({ id, status: restarted.status });
    },
  );

  app.get<{
    Params: { id: string };
    Querystring: { lastEventId?: number };
    Headers: { "last-event-id"?: string };
  }>(
    "/v1/runs/:id/events",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "Follow a run",
        description:
          "Server-sent events from the run's history: every run, node and attempt event of every round " +
          "(the types of GET /v1/runs/{id}/history), oldest first, then live; the stream closes after " +
          "the event that ends the run. Each has `id:` its sequence number, `event:` its type and " +
          "`data:` the event as JSON (the historyEvent schema). `Last-Event-ID` (a header, as browsers " +
          "send on reconnecting, or `?lastEventId=`) resumes exactly after that event. " +
          "While the run is open, `node.delta` events relay the text of model nodes with `stream: true` " +
          "as it is written (data: the nodeDelta schema); they have no `id` and are not replayed. " +
          "A `: keep-alive` comment comes every 15 s.",
        tags: ["runs"],
        operationId: "followRun",
        params: runIdParams,
        querystring: {
          type: "object",
          properties: {
            lastEventId: {
              description: "Resume after this event (its seq); the Last-Event-ID header does the same.",
              type: "integer",
              minimum: 0,
            },
          },
          additionalProperties: false,
        },
        headers: {
          type: "object",
          properties: {
            "last-event-id": {
              description: "Resume after this event (its seq).",
              type: "string",
              pattern: "^[0-9]{1,15}$",
            },
          },
        },
        response: {
          200: {
            description: "The event stream.",
            content: { "text/event-stream": { schema: ref("runEventFrame") } },
          },
          ...problemReplies("bad-request", "not-found"),
        },
      },
    },
    async (request, reply) => {
      await existingRun(engine, request.params.id);
      const header = request.headers["last-event-id"];
      const after = request.query.lastEventId ?? (header === undefined ? 0 : Number(header));
      await streamRunEvents(engine, followers, request.params.id, after, reply, shutdown.signal);
    },
  );
};

function runSummary(run: RunRecord) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: run.id,
    workflow: run.workflow,
    status: run.status,
    error: run.error,
    createdAt: iso(run.createdAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    usage: run.usage,
    cost: runCost(run.cost),
    parent: run.parent,
  };
}

/**
 * The text/plain parser Fastify has by default (and the app's YAML parsers)
 * would hand a string to a route that wants a JSON object, which would then
 * fail as a 400; a body of another type is a 415 here.
 */
function acceptJsonBodiesOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  addJsonBodyParser(app);
}
