import { randomUUID } from "node:crypto";
import type { RoutePlugin } from "../app.ts";
import { COMMON_PROBLEMS, problemResponse } from "../route-schemas.ts";

/**
 * `POST /v1/events/{exchange}/{routingKey}`: publishes one message, as another
 * service would, to the broker event triggers consume: the in-process bus on
 * the embedded default (the way to feed event triggers locally and in tests),
 * RabbitMQ in production.
 */
const NAME = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

export const eventRoutes: RoutePlugin = async (app, { engine }) => {
  app.post<{
    Params: { exchange: string; routingKey: string };
    Body: { body?: unknown; messageId?: string | null; headers?: Record<string, string> };
  }>(
    "/v1/events/:exchange/:routingKey",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Publish an event",
        description:
          "Publishes one message to a topic exchange (declared, durable, if missing), as JSON. `messageId` " +
          "defaults to a fresh UUID; `null` sends none, which event triggers dead-letter (their run id is " +
          "derived from it). Publishing the same `messageId` twice starts one run per trigger.",
        tags: ["triggers"],
        operationId: "publishEvent",
        params: {
          type: "object",
          required: ["exchange", "routingKey"],
          properties: {
            exchange: { type: "string", pattern: NAME },
            routingKey: { type: "string", pattern: "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$", maxLength: 255 },
          },
        },
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            body: { description: "The message body (any JSON)." },
            messageId: {
              type: ["string", "null"],
              minLength: 1,
              maxLength: 200,
              pattern: "^[\\x20-\\x7E]+$",
            },
            headers: {
              type: "object",
              maxProperties: 50,
              additionalProperties: { type: "string", maxLength: 1000 },
            },
          },
        },
        response: {
          202: {
            description: "Published",
            type: "object",
            required: ["exchange", "routingKey", "messageId"],
            properties: {
              exchange: { type: "string" },
              routingKey: { type: "string" },
              messageId: { type: ["string", "null"] },
            },
          },
          400: problemResponse("The exchange, routing key or body is not valid"),
          413: problemResponse("The body is too large"),
          415: problemResponse("The body is not application/json"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const { exchange, routingKey } = request.params;
      const body = request.body ?? {};
      const messageId = body.messageId === undefined ? randomUUID() : body.messageId;
      await engine.triggers.events.publish(exchange, routingKey, {
        body: JSON.stringify(body.body ?? null),
        contentType: "application/json",
        ...(messageId === null ? {} : { messageId }),
        ...(body.headers ? { headers: body.headers } : {}),
      });
      return reply.code(202).send({ exchange, routingKey, messageId });
    },
  );
};
