import type { FastifyInstance, RouteOptions } from "fastify";
import { problemResponse } from "./route-schemas.ts";

/**
 * The OpenAPI document tells the truth: every status the app itself can answer
 * for a route (not only those its handler throws) is declared on the route, so
 * a client generator and a schema-driven fuzzer see them all. Added as each
 * route is, only where the route does not declare the status itself:
 * - 400 where a part of the request is validated (path, query, headers, body)
 *   or a body is parsed;
 * - 413 and 415 where the method takes a body (a body too large, or of a type
 *   the route does not read);
 * - 401, 403 and 429 where a key is needed (every route but the public ones);
 * - 500 everywhere.
 * 404 and 405 for paths the API does not have belong to no route.
 */
const BODY_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function declareFrameworkResponses(app: FastifyInstance): void {
  app.addHook("onRoute", (route: RouteOptions) => {
    const schema = route.schema as Record<string, unknown> | undefined;
    if (schema === undefined || schema.hide === true) return;
    const response = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
    const add = (status: number, description: string) => {
      if (!(status in response) && !(String(status) in response))
        response[status] = problemResponse(description);
    };
    const methods = [route.method].flat();
    const takesBody = methods.some((method) => BODY_METHODS.has(method));
    if (takesBody || schema.params || schema.querystring || schema.headers || schema.body) {
      add(400, "The request is not valid: the problem's detail and errors say where");
    }
    if (takesBody) {
      add(413, "The body is larger than this route accepts");
      add(415, "The body's content type is not one this route reads");
    }
    if (route.config?.scope !== "public") {
      add(401, "No API key, or not a valid one");
      add(403, "The API key lacks the scope this needs");
      add(429, "Too many requests; Retry-After says when to try again");
    }
    add(500, "Internal error; the server log has the details");
    route.schema = { ...schema, response };
  });
}
