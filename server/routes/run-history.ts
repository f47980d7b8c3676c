import type { FastifyInstance } from "fastify";
import type { Engine } from "../../engine/engine.ts";
import { attemptsOf } from "../../engine/history/attempts.ts";
import { type HistoryEvent, historyEventJson } from "../../engine/history/events.ts";
import { Problem } from "../problems.ts";
import { existingRun, jsonReply, problemReplies, runIdParams } from "./run-replies.ts";

/**
 * A run's history (every event of every round, in order) and a node's
 * attempts read from it. Both read the Store's history (the engine's run
 * history: see engine/history/events.ts), never the current records, so a
 * retry loses nothing.
 */
const MAX_PAGE = 1_000;
/** Events read per round trip when a route needs all of a node's. */
const READ_PAGE = 1_000;

export function runHistoryRoutes(app: FastifyInstance, engine: Engine): void {
  const { store, catalog } = engine.services;

  app.get<{ Params: { id: string }; Querystring: { after: number; limit: number } }>(
    "/v1/runs/:id/history",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A run's history",
        description:
          "Every event of the run, every round, oldest first: run, node and attempt events, each " +
          "numbered (`seq`: 1, 2, 3… with no gaps). Pages: pass `next` as `after` for the following one; " +
          "`next` is absent when the page is the last (for now: a live run adds events).",
        tags: ["runs"],
        operationId: "getRunHistory",
        params: runIdParams,
        querystring: {
          type: "object",
          properties: {
            after: {
              description: "Only events with a greater seq (0: from the start).",
              type: "integer",
              minimum: 0,
              default: 0,
            },
            limit: {
              description: "Events per page.",
              type: "integer",
              minimum: 1,
              maximum: MAX_PAGE,
              default: 100,
            },
          },
          additionalProperties: false,
        },
        response: {
          200: jsonReply("A page of the run's history.", "historyPage"),
          ...problemReplies("bad-request", "not-found"),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { after, limit } = request.query;
      await existingRun(engine, id);
      const events = await store.listHistory(id, { after, limit });
      const last = events.at(-1);
      return {
        items: events.map(historyEventJson),
        ...(events.length === limit && last ? { next: last.seq } : {}),
      };
    },
  );

  app.get<{ Params: { id: string; nodeId: string }; Querystring: { item?: number } }>(
    "/v1/runs/:id/nodes/:nodeId/attempts",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A node's attempts",
        description:
          "Every attempt of the node, every round, oldest first: status, times, error, the model " +
          "version called and its provider, usage, cost, whether it was a cache hit, and the request " +
          "it sent (secrets redacted, cut at 64 KB). A claim handed back to wait for a rate limit is " +
          "no attempt. For a map node, `?item=N` gives item N's attempts; without it, the map node's own.",
        tags: ["runs"],
        operationId: "listNodeAttempts",
        params: {
          type: "object",
          required: ["id", "nodeId"],
          properties: {
            ...runIdParams.properties,
            nodeId: {
              description: "A node id of the run's workflow.",
              type: "string",
              minLength: 1,
              maxLength: 200,
            },
          },
        },
        querystring: {
          type: "object",
          properties: {
            item: { description: "A map node's item index.", type: "integer", minimum: 0 },
          },
          additionalProperties: false,
        },
        response: {
          200: jsonReply("The node's attempts.", "attemptPage"),
          ...problemReplies("bad-request", "not-found"),
        },
      },
    },
    async (request) => {
      const { id, nodeId } = request.params;
      const { item } = request.query;
      const run = await existingRun(engine, id);
      const { plan } = await catalog.plan(run.workflow.name, run.workflow.version);
      const node = plan.nodes[nodeId];
      if (!node) throw new Problem("not-found", `run ${id} has no node "${nodeId}"`);
      if (item !== undefined && node.type !== "map")
        throw new Problem(
          "bad-request",
          `node "${nodeId}" is a ${node.type} node, not a map: it has no items (leave out ?item)`,
        );
      const events: HistoryEvent[] = [];
      for (;;) {
        const page = await store.listHistory(id, {
          after: events.at(-1)?.seq ?? 0,
          limit: READ_PAGE,
          nodeId,
          item: item ?? null,
        });
        events.push(...page);
        if (page.length < READ_PAGE) break;
      }
      return { items: attemptsOf(events) };
    },
  );
}
