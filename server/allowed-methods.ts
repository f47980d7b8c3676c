import type { FastifyInstance } from "fastify";
import Router from "find-my-way";
import { Problem } from "./problems.ts";

/**
 * 405 Method Not Allowed, with an Allow header, for a path the API has under
 * another method (RFC 9110 §15.5.6); 404 stays for paths it does not have.
 * Fastify's router says only "no route", so the routes are mirrored, as they
 * are added, in a router of the same library (find-my-way) that is asked which
 * methods match a path.
 *
 * The check runs first in onRequest, before the body is read: a TRACE or QUERY
 * with an odd body is a 405, not a body error.
 */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export function answerMethodNotAllowed(app: FastifyInstance, options: { maxParamLength: number }): void {
  const routes = Router({ maxParamLength: options.maxParamLength });
  const added = new Set<string>();
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      const key = `${method} ${route.url}`;
      if (added.has(key) || route.url === undefined) continue;
      added.add(key);
      routes.on(method as (typeof METHODS)[number], route.url, () => undefined);
    }
  });
  app.addHook("onRequest", async (request) => {
    if (!request.is404) return;
    const path = request.url.split("?", 1)[0] ?? "/";
    const allowed = METHODS.filter((method) => routes.find(method, path) !== null);
    if (allowed.length === 0) return;
    throw new Problem(
      "method-not-allowed",
      `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`,
      {
        headers: { allow: allowed.join(", ") },
      },
    );
  });
}
