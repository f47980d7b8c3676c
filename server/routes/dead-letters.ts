import type { RoutePlugin } from "../app.ts";
import { Problem } from "../problems.ts";
import { iso } from "../registry.ts";
import { COMMON_PROBLEMS, problemResponse } from "../route-schemas.ts";

/**
 * Dead letters: node executions whose delivery the broker gave up on. Each
 * failed its execution with "dead-lettered", so its run failed too; replaying
 * one reruns that run from its failed nodes, keeping what succeeded.
 */

const DEAD_LETTER = {
  type: "object",
  required: ["id", "executionKey", "runId", "nodeId", "reason", "deliveries", "createdAt"],
  properties: {
    id: { type: "string", description: "Holds a slash: encode it (%2F) in a path." },
    executionKey: { type: "string", description: "runId/nodeId, or runId/nodeId#item for a map item." },
    runId: { type: "string" },
    nodeId: { type: "string" },
    reason: { type: "string", description: "Why delivery failed, as the last handler saw it." },
    deliveries: { type: "integer", minimum: 0 },
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
        description: "Node executions whose delivery failed too often, newest first.",
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
      const letters = await store.listDeadLetters(limit);
      return { items: letters.map((letter) => ({ ...letter, createdAt: iso(letter.createdAt) })) };
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
