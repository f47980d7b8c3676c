import type { RoutePlugin } from "../app.ts";
import { SCOPES } from "../auth.ts";
import { COMMON_PROBLEMS } from "../route-schemas.ts";

/**
 * `GET /v1/auth/whoami`: which key the caller holds and what it may do, so a
 * client (the console) shows only the actions the key allows instead of
 * learning it from 403s. Any valid key may ask; without configured keys the
 * server is loopback-only and unauthenticated, so the caller is "local" with
 * every scope.
 */
export const whoamiRoutes: RoutePlugin = async (app, { apiKeys }) => {
  app.get(
    "/v1/auth/whoami",
    {
      // No scope: any valid key may read its own name and scopes.
      schema: {
        summary: "Who am I",
        description:
          "The id of the caller's API key (the first 12 hex digits of its sha256; `local` when the server runs without keys) and its scopes (`admin` grants every scope).",
        tags: ["auth"],
        operationId: "whoami",
        response: {
          200: {
            type: "object",
            required: ["name", "scopes"],
            additionalProperties: false,
            properties: {
              name: { type: "string", description: "The key's id, or `local` without keys." },
              scopes: { type: "array", items: { enum: [...SCOPES] } },
            },
          },
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      if (apiKeys.length === 0 || request.apiKey === undefined) return { name: "local", scopes: ["admin"] };
      return { name: request.apiKey.id, scopes: SCOPES.filter((scope) => request.apiKey?.scopes.has(scope)) };
    },
  );
};
