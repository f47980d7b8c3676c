import { existsSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyReply } from "fastify";
import type { RoutePlugin } from "../app.ts";
import { Problem } from "../problems.ts";

/**
 * The web console at /ui: the single-page app `npm run build:ui` bundles into
 * ui/dist (npm install and npm ci run it). The files are public, like
 * /docs: the app asks for an API key itself and sends it with each API call.
 * Any path under /ui without a file extension is one of the app's own pages
 * (a deep link such as /ui/runs/{id}), answered with its index.html.
 */
export const CONSOLE_DIR = fileURLToPath(new URL("../../ui/dist/", import.meta.url));

/** Only the console's own files: no inline script, no other origin (it works offline). */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

export function consoleRoutes(dir: string = CONSOLE_DIR): RoutePlugin {
  return async (app) => {
    const built = existsSync(join(dir, "index.html"));
    // preCompressed: the build wrote .br and .gz beside each file (ui/compress.ts).
    if (built) await app.register(fastifyStatic, { root: dir, serve: false, preCompressed: true });
    const options = { config: { scope: "public" as const }, schema: { hide: true } };

    const send = (path: string, reply: FastifyReply) => {
      if (!built) {
        throw new Problem(
          "not-found",
          `the web console is not built: run \`npm run build:ui\` (npm install and npm ci run it) and restart`,
        );
      }
      reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
      // Vite names assets by their content hash: they never change; the index names them.
      const immutable = path.startsWith("assets/");
      return reply.sendFile(path, {
        immutable,
        maxAge: immutable ? "365d" : 0,
        cacheControl: true,
      });
    };

    app.get("/ui", options, (_request, reply) => reply.redirect("/ui/"));
    app.get<{ Params: { "*": string } }>("/ui/*", options, (request, reply) => {
      const path = request.params["*"];
      return send(path === "" || extname(path) === "" ? "index.html" : path, reply);
    });
  };
}
