import { WebhookRefused } from "../../engine/triggers/webhook.ts";
import type { RoutePlugin } from "../app.ts";
import { parseJsonBody } from "../json-body.ts";
import { Problem } from "../problems.ts";
import { problemResponse } from "../route-schemas.ts";

/**
 * `POST /v1/hooks/{name}`: a webhook trigger. No API key: the signature is the
 * credential (engine/triggers/webhook.ts), so the route is public and its body
 * is kept as the bytes received, which is what the sender signed.
 */
const WEBHOOK_PROBLEMS = {
  "not-found": "not-found",
  unauthorized: "unauthorized",
  paused: "conflict",
  unavailable: "unavailable",
  "invalid-body": "bad-request",
  "invalid-input": "invalid-input",
} as const;

/** Headers a mapping may read: all but credentials. */
const HIDDEN_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

export const hookRoutes: RoutePlugin = async (app, { engine }) => {
  // This plugin's scope only: every other route keeps the parsed JSON body.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser(
    ["application/json", "text/plain"],
    { parseAs: "buffer" },
    (_request, body, done) => done(null, body),
  );

  app.post<{
    Params: { name: string };
    Headers: { "x-pflow-signature"?: string; "x-pflow-timestamp"?: string; "idempotency-key"?: string };
  }>(
    "/v1/hooks/:name",
    {
      config: { scope: "public" },
      schema: {
        summary: "Call a webhook",
        description:
          "Starts a run of the workflow whose webhook trigger has this name. No API key: sign the request. " +
          '`X-Pflow-Signature: sha256=<hex HMAC-SHA256 of timestamp + "." + raw body, keyed with the trigger\'s secret>` ' +
          "and `X-Pflow-Timestamp: <Unix seconds>`, within 5 minutes of the server's clock. A bad or missing " +
          "signature is 401 and starts nothing. The body is JSON; the trigger's `input` maps it to the run input. " +
          "An `Idempotency-Key` answers a repeated request with the run the key started; without one, the same " +
          "signed request sent again (within the 5 minutes) answers with the same run.",
        tags: ["triggers"],
        operationId: "callWebhook",
        security: [],
        params: {
          type: "object",
          required: ["name"],
          properties: { name: { type: "string", pattern: "^[a-z][a-z0-9-]{0,62}$" } },
        },
        headers: {
          type: "object",
          properties: {
            "x-pflow-signature": { type: "string", maxLength: 200, description: "sha256=<64 hex digits>" },
            "x-pflow-timestamp": { type: "string", maxLength: 20, description: "Unix seconds" },
            "idempotency-key": {
              type: "string",
              minLength: 1,
              maxLength: 200,
              pattern: "^[\\x20-\\x7E]+$",
            },
          },
        },
        body: { description: "Any JSON; the signature covers its exact bytes." },
        response: {
          202: {
            description: "The run started (or, for a repeated request, the run it started)",
            type: "object",
            required: ["id"],
            properties: { id: { type: "string" } },
          },
          400: problemResponse(
            "The body is not JSON, or the mapped input does not fit the workflow's inputs schema",
          ),
          401: problemResponse(
            "The signature or timestamp is missing, old or does not match: nothing started",
          ),
          404: problemResponse("No webhook of that name"),
          409: problemResponse("The trigger is paused"),
          413: problemResponse("The body is too large"),
          415: problemResponse("The body is not application/json"),
          500: problemResponse("Internal error; the server log has the details"),
          503: problemResponse("The webhook's secret is not configured on this server"),
        },
      },
    },
    async (request, reply) => {
      const headers: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (!HIDDEN_HEADERS.has(name)) headers[name] = value;
      }
      try {
        const { id } = await engine.triggers.webhook(request.params.name, {
          body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
          signature: request.headers["x-pflow-signature"],
          timestamp: request.headers["x-pflow-timestamp"],
          idempotencyKey: request.headers["idempotency-key"],
          headers,
          parse: (text) => parseJsonBody(text),
        });
        return reply.code(202).send({ id });
      } catch (error) {
        if (!(error instanceof WebhookRefused)) throw error;
        const { refusal } = error;
        throw new Problem(WEBHOOK_PROBLEMS[refusal.kind], refusal.message, {
          ...(refusal.kind === "unauthorized"
            ? { headers: { "www-authenticate": 'Signature realm="pflow-webhook"' } }
            : {}),
        });
      }
    },
  );
};
