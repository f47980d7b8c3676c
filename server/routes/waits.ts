import type { FastifyInstance } from "fastify";
import { ApprovalRefused, pendingApprovals } from "../../engine/waits/approvals.ts";
import { SignalRefused } from "../../engine/waits/signals.ts";
import type { RoutePlugin } from "../app.ts";
import { addJsonBodyParser } from "../json-body.ts";
import { Problem } from "../problems.ts";
import { COMMON_PROBLEMS, problemResponse } from "../route-schemas.ts";

/**
 * What a waiting run waits for, from outside: signals to a run's wait nodes,
 * decisions on its approval nodes, and the approvals waiting for a person.
 * The engine does the work (engine/waits/); these routes translate its
 * refusals into problems.
 */

const RUN_ID = { description: "A run id.", type: "string", minLength: 1, maxLength: 200 } as const;
const SIGNAL_NAME = {
  description: "The signal's name, as a wait node's `signal` gives it.",
  type: "string",
  pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
} as const;
const NODE_ID = { description: "A node id.", type: "string", pattern: "^[a-z][a-zA-Z0-9_]{0,62}$" } as const;
const IDEMPOTENCY_KEY = {
  description:
    "Printable characters; the same key (for the same run and signal) answers with the same signal.",
  type: "string",
  minLength: 1,
  maxLength: 200,
  pattern: "^[\\x20-\\x7E]+$",
} as const;

const APPROVAL_OUTPUT = {
  type: "object",
  required: ["approved", "by", "comment", "at"],
  additionalProperties: false,
  properties: {
    approved: { type: "boolean" },
    by: { type: "string", description: "The deciding API key's name (its id; `local` without keys)." },
    comment: { type: ["string", "null"] },
    at: { type: "string", format: "date-time" },
  },
} as const;

const PENDING_APPROVAL = {
  type: "object",
  required: ["runId", "workflow", "nodeId", "item", "description", "waitingSince", "timeoutAt"],
  additionalProperties: false,
  properties: {
    runId: { type: "string" },
    workflow: {
      type: "object",
      required: ["name", "version"],
      properties: { name: { type: "string" }, version: { type: "integer" } },
    },
    nodeId: { type: "string" },
    item: { type: ["integer", "null"], description: "The map item, for an approval in a map template." },
    description: { type: ["string", "null"], description: "The node's description: what to check." },
    waitingSince: { type: "string", format: "date-time" },
    timeoutAt: {
      type: ["string", "null"],
      format: "date-time",
      description: "When the node's timeout fails it (approval-timeout), or null.",
    },
  },
} as const;

export const waitRoutes: RoutePlugin = async (app, { engine }) => {
  acceptJsonBodiesOnly(app);

  app.post<{
    Params: { id: string; name: string };
    Headers: { "idempotency-key"?: string };
    Body: { data?: unknown };
  }>(
    "/v1/runs/:id/signals/:name",
    {
      config: { scope: "runs:write" },
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: "Send a signal to a run",
        description:
          "Sends `data` to the run's wait nodes that wait for signal `name`: the one waiting longest takes it as its output. " +
          "A signal sent before its node waits is kept, and taken when the node starts waiting (the oldest first). " +
          "Data that breaks a wait node's `schema` is refused with the violations, and nothing is kept. " +
          "With an `Idempotency-Key`, a repeated request answers with the signal the key sent.",
        tags: ["runs"],
        operationId: "sendSignal",
        params: {
          type: "object",
          required: ["id", "name"],
          properties: { id: RUN_ID, name: SIGNAL_NAME },
        },
        headers: { type: "object", properties: { "idempotency-key": IDEMPOTENCY_KEY } },
        body: {
          type: "object",
          additionalProperties: false,
          properties: { data: { description: "Any JSON value (default null): the wait node's output." } },
        },
        response: {
          202: {
            description: "The signal is kept (or the key's signal, for a repeated Idempotency-Key).",
            type: "object",
            required: ["id", "runId", "name", "state"],
            additionalProperties: false,
            properties: {
              id: { type: "string" },
              runId: { type: "string" },
              name: { type: "string" },
              state: {
                enum: ["new", "kept", "consumed", "delivered"],
                description: "kept: no node waits for it yet; delivered: a wait node took it.",
              },
            },
          },
          400: problemResponse(
            "The data breaks a wait node's schema (`errors` lists the violations), or the request is not valid",
          ),
          404: problemResponse("No such run, or its workflow has no wait node for this signal"),
          409: problemResponse("The run has ended"),
          413: problemResponse("The body is too large"),
          415: problemResponse("The body is not JSON"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const { signal } = await engine
        .signal({
          runId: request.params.id,
          name: request.params.name,
          data: request.body.data ?? null,
          idempotencyKey: request.headers["idempotency-key"] ?? null,
        })
        .catch(asProblem);
      const latest = (await engine.services.store.waits.getSignal(signal.id)) ?? signal;
      return reply
        .code(202)
        .send({ id: latest.id, runId: latest.runId, name: latest.name, state: latest.state });
    },
  );

  app.post<{
    Params: { id: string; nodeId: string };
    Querystring: { item?: number };
    Body: { approved: boolean; comment?: string };
  }>(
    "/v1/runs/:id/nodes/:nodeId/approval",
    {
      config: { scope: "runs:approve" },
      schema: {
        summary: "Decide an approval",
        description:
          "Approves or rejects a waiting approval node. Its output becomes `{ approved, by, comment, at }`, `by` the API key's name; " +
          "the node succeeds either way, and the workflow routes on `approved`. Needs scope `runs:approve` (`admin` has it). " +
          "A node decided already, not yet waiting, or of an ended run: 409.",
        tags: ["runs"],
        operationId: "decideApproval",
        params: {
          type: "object",
          required: ["id", "nodeId"],
          properties: { id: RUN_ID, nodeId: NODE_ID },
        },
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            item: {
              description: "The map item, for an approval node in a map template.",
              type: "integer",
              minimum: 0,
            },
          },
        },
        body: {
          type: "object",
          required: ["approved"],
          additionalProperties: false,
          properties: {
            approved: { type: "boolean" },
            comment: { type: "string", maxLength: 10_000 },
          },
        },
        response: {
          202: { description: "The decision is the node's output.", ...APPROVAL_OUTPUT },
          400: problemResponse("The request is not valid"),
          404: problemResponse("No such run, or the node is not an approval node"),
          409: problemResponse("The node was decided already, does not wait yet, or its run has ended"),
          413: problemResponse("The body is too large"),
          415: problemResponse("The body is not JSON"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const output = await engine
        .decide({
          runId: request.params.id,
          nodeId: request.params.nodeId,
          item: request.query.item ?? null,
          approved: request.body.approved,
          comment: request.body.comment ?? null,
          by: request.apiKey?.id ?? "local",
        })
        .catch(asProblem);
      return reply.code(202).send(output);
    },
  );

  app.get<{ Querystring: { status?: "pending"; limit?: number; cursor?: string } }>(
    "/v1/approvals",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List approvals waiting for a decision",
        description:
          "Approval nodes waiting for a person, the longest waiting first, by page (`next` is the cursor of the next).",
        tags: ["runs"],
        operationId: "listApprovals",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            status: {
              enum: ["pending"],
              description: "Only pending (waiting) approvals are listed; the default.",
            },
            limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
            cursor: { type: "string", minLength: 1, maxLength: 500 },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["items", "next"],
            additionalProperties: false,
            properties: {
              items: { type: "array", items: PENDING_APPROVAL },
              next: { type: ["string", "null"] },
            },
          },
          400: problemResponse("The query is not valid"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      return pendingApprovals(engine.services, {
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor ?? null,
      });
    },
  );
};

function asProblem(error: unknown): never {
  if (error instanceof SignalRefused) {
    const type = error.status === 400 ? "bad-request" : error.status === 404 ? "not-found" : "conflict";
    throw new Problem(type, error.message, error.violations.length > 0 ? { errors: error.violations } : {});
  }
  if (error instanceof ApprovalRefused)
    throw new Problem(error.status === 404 ? "not-found" : "conflict", error.message);
  throw error;
}

function acceptJsonBodiesOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  addJsonBodyParser(app);
}
