import type { RoutePlugin } from "../app.ts";
import { Problem } from "../problems.ts";
import { iso } from "../registry.ts";
import { COMMON_PROBLEMS, problemResponse } from "../route-schemas.ts";

/**
 * Dead letters: node executions whose delivery the broker gave up on. Each
 * failed its execution with "dead-lettered", so its run failed too; replaying
 * one reruns that run from its failed nodes, keeping what succeeded. Listed
 * with them: the messages event triggers dead-lettered (kind "event").
 */

const DEAD_LETTER = {
  type: "object",
  required: ["id", "kind", "reason", "deliveries", "createdAt"],
  properties: {
    id: { type: "string", description: "Holds a slash: encode it (%2F) in a path." },
    kind: {
      enum: ["execution", "event"],
      description:
        "execution: a node execution whose delivery failed (replayable); event: a message an event trigger could not start a run from (not replayable: publish it again).",
    },
    executionKey: {
      type: "string",
      description: "execution: runId/nodeId, or runId/nodeId#item for a map item.",
    },
    runId: { type: "string", description: "execution only." },
    nodeId: { type: "string", description: "execution only." },
    trigger: { type: "string", description: "event: the trigger (workflow.name)." },
    workflow: { type: "string", description: "event: the trigger's workflow." },
    messageId: { type: ["string", "null"], description: "event: the message's id (null: it had none)." },
    routingKey: { type: "string", description: "event: the message's routing key." },
    body: { type: "string", description: "event: the message body as received (at most 64 KiB)." },
    reason: { type: "string", description: "Why it was given up on." },
    deliveries: { type: "integer", minimum: 0, description: "Deliveries before it was (event: 1)." },
    createdAt: { type: "string", format: "date-time" },
  },
};

export const deadLetterRoutes: RoutePlugin = async (app, { engine }) => {
  const { store } = engine.services;

  app.get<{ Querystring: { limit?: string } }>(
    "/v1/dead-letters",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List dead letters",
        description:
          "Node executions whose delivery failed too often, and messages event triggers could not start a run from (no messageId, or an input the workflow refused), newest first.",
        tags: ["dead letters"],
        operationId: "listDeadLetters",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: {
              description: "At most this many (1 to 1000; default 100).",
              type: "string",
              pattern: "^[0-9]{1,4}$",
            },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["items"],
            properties: { items: { type: "array", items: DEAD_LETTER } },
          },
          400: problemResponse("The query is not valid"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 100)));
      const [letters, events] = await Promise.all([
        store.listDeadLetters(limit),
        store.triggers.listTriggerDeadLetters(limit),
      ]);
      const items = [
        ...letters.map((letter) => ({ ...letter, kind: "execution" as const })),
        ...events.map((letter) => ({ ...letter, kind: "event" as const, deliveries: 1 })),
      ]
        .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id))
        .slice(0, limit);
      return { items: items.map((letter) => ({ ...letter, createdAt: iso(letter.createdAt) })) };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/v1/dead-letters/:id/replay",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Replay a dead letter",
        description:
          "Takes the dead letter and reruns its run from its failed nodes (as POST /v1/runs/{id}/retry does), keeping what succeeded. The run must have ended failed, cancelled or timed out; otherwise 409 and the letter stays.",
        tags: ["dead letters"],
        operationId: "replayDeadLetter",
        params: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", minLength: 1 } },
        },
        response: {
          202: {
            description: "The run is running again",
            type: "object",
            required: ["id", "runId", "status"],
            properties: {
              id: { type: "string", description: "The dead letter replayed." },
              runId: { type: "string" },
              status: { type: "string", description: "The run's status now." },
            },
          },
          404: problemResponse("No dead letter of that id"),
          409: problemResponse("The run has not ended, or succeeded since: there is nothing to replay"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // Taken first, so two replays of one letter cannot both rerun its run.
      const letter = await store.takeDeadLetter(id);
      if (!letter) throw new Problem("not-found", `no dead letter "${id}"`);
      const run = await engine.runner.retryRun(letter.runId);
      if (!run) {
        // A refused replay changes nothing: the letter goes back.
        await store.addDeadLetter(letter);
        const current = await store.getRun(letter.runId);
        throw new Problem(
          "conflict",
          current
            ? `run ${letter.runId} is ${current.status}; only a failed, cancelled or timed-out run can be replayed`
            : `run ${letter.runId} no longer exists`,
        );
      }
      return reply.code(202).send({ id, runId: run.id, status: run.status });
    },
  );
};
