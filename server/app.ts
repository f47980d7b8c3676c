import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import type { Logger } from "pino";
import type { Engine } from "../engine/engine.ts";
import { InputRejected } from "../engine/runner.ts";
import { answerMethodNotAllowed } from "./allowed-methods.ts";
import { type ApiKey, allows, findApiKey, type Scope } from "./auth.ts";
import { DefinitionValidator, type ValidationSettings } from "./definition-validator.ts";
import { DOCS_PAGE } from "./docs-page.ts";
import { addJsonBodyParser } from "./json-body.ts";
import { withLinks } from "./openapi-links.ts";
import { Problem } from "./problems.ts";
import { declareFrameworkResponses } from "./route-responses.ts";
import { partAwareValidator } from "./validation.ts";

/**
 * The Fastify app: every route of the interfaces spec under /v1, bodies
 * declared as JSON Schemas (Fastify validates and serialises them; the OpenAPI
 * document at /openapi.json comes from the same schemas), API keys with scopes,
 * a rate limit per key, problem+json errors from one table, and body limits per
 * route.
 *
 * Routes live in server/routes/, one file per resource; each declares its scope
 * in `config.scope` ("public" for health and documentation).
 */
declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope a caller's key needs; "public": none. */
    scope?: Scope | "public";
  }
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
}

export interface ServerDeps {
  readonly engine: Engine;
  readonly logger: Logger;
  /** Empty: no authentication (the server then listens on loopback only; see cli/serve). */
  readonly apiKeys: readonly ApiKey[];
  /** Validates uploaded definitions off the event loop. */
  readonly validator: DefinitionValidator;
}

export type RoutePlugin = (app: FastifyInstance, deps: ServerDeps) => Promise<void>;

export interface ServerOptions extends Omit<ServerDeps, "validator"> {
  readonly routes: readonly RoutePlugin[];
  /** Requests per key (or per address, without keys) per window. */
  readonly rateLimit?: { readonly max: number; readonly windowMs: number };
  /** Default JSON body limit; routes may set their own. */
  readonly bodyLimit?: number;
  /**
   * How long a client may take to send a whole request, headers and body: one
   * that trickles a body is cut off with 408 (within REQUEST_CHECK_INTERVAL_MS
   * after). Responses, server-sent events among them, are not bounded by it.
   */
  readonly requestTimeoutMs?: number;
  /** How uploaded definitions are validated (threads, time budget). */
  readonly validation?: Partial<ValidationSettings>;
}

export const JSON_BODY_LIMIT = 1024 * 1024;
export const REQUEST_TIMEOUT_MS = 30_000;
const MAX_PARAM_LENGTH = 1000;
/** How often Node looks for requests past their timeout (its default, 30 s, would let a trickle live a minute). */
export const REQUEST_CHECK_INTERVAL_MS = 5_000;
/** Headers alone must come within this (Node's default), or sooner if the whole request must. */
const HEADERS_TIMEOUT_MS = 60_000;
export const YAML_BODY_LIMIT = 8 * 1024 * 1024;
const YAML_TYPES = ["application/yaml", "application/x-yaml", "text/yaml"];

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    requestTimeout,
    http: {
      requestTimeout,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      connectionsCheckingInterval: Math.min(REQUEST_CHECK_INTERVAL_MS, requestTimeout),
    },
    bodyLimit: options.bodyLimit ?? JSON_BODY_LIMIT,
    // Path parameters longer than the router takes get its 414 (as a problem, below); up to
    // this length the route schemas answer with a 400 that says which parameter is wrong.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors the router raises before a route is chosen (a malformed URL) answer as problems too.
    frameworkErrors: (error, request, reply) => {
      sendProblem(new Problem("bad-request", `${error.message}`), reply);
      request.log.debug({ err: error }, "rejected by the router");
    },
    // Shared schemas (app.addSchema) reach the validator through the schema controller.
    schemaController: {
      compilersFactory: {
        // Fastify's typings for this hook name Ajv's compile signature; ours takes the same route definitions.
        buildValidator: ((externalSchemas: Record<string, object>) =>
          partAwareValidator(Object.values(externalSchemas ?? {}))) as unknown as NonNullable<
          NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]
        >["buildValidator"],
      },
    },
  });

  app.addContentTypeParser(YAML_TYPES, { parseAs: "string" }, (_request, body, done) => done(null, body));
  app.removeContentTypeParser("application/json");
  addJsonBodyParser(app);
  declareFrameworkResponses(app);

  await app.register(helmet, { contentSecurityPolicy: false, global: true });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "pflow API",
        description: "Start and follow workflow runs, and manage workflow and model definitions.",
        version: "1",
      },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      // The document describes this server: without keys (loopback only) no route asks for one.
      security: options.apiKeys.length > 0 ? [{ apiKey: [] }] : [],
    },
    // Shared schemas appear under their own $id in components, not as def-0, def-1…
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => componentName(json.$id, i) },
    transformObject: (documents) =>
      withLinks("openapiObject" in documents ? documents.openapiObject : documents.swaggerObject),
  });
  await app.register(swaggerUi, DOCS_PAGE);

  // Before authentication: which methods a path takes is public (the OpenAPI document says it too).
  answerMethodNotAllowed(app, { maxParamLength: MAX_PARAM_LENGTH });
  app.addHook("onRequest", async (request) => authenticate(request, options.apiKeys));
  await app.register(rateLimit, {
    global: true,
    hook: "preHandler",
    max: options.rateLimit?.max ?? 600,
    timeWindow: options.rateLimit?.windowMs ?? 60_000,
    keyGenerator: (request) => request.apiKey?.id ?? request.ip,
    allowList: (request) => request.routeOptions.config.scope === "public" || request.url.startsWith("/docs"),
    errorResponseBuilder: (_request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new Problem(
        "rate-limited",
        `more than ${context.max} requests in ${context.after}; try again in ${seconds} s`,
        {
          headers: { "retry-after": String(seconds) },
        },
      );
    },
  });

  app.setErrorHandler((error, request, reply) => sendProblem(toProblem(error, request), reply));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(new Problem("not-found", `no route ${request.method} ${request.url}`), reply),
  );

  app.get("/openapi.json", { config: { scope: "public" }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  const validator = new DefinitionValidator(options.validation);
  app.addHook("onClose", () => validator.close());
  const deps: ServerDeps = { ...options, validator };
  for (const routes of options.routes) await app.register(async (scope) => routes(scope, deps));
  return app;
}

async function authenticate(request: FastifyRequest, keys: readonly ApiKey[]): Promise<void> {
  const scope = request.routeOptions.config?.scope;
  if (scope === "public" || request.url === "/docs" || request.url.startsWith("/docs/")) return;
  if (keys.length === 0) return; // no keys configured: the listener is loopback only
  const header = request.headers.authorization;
  const token = header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
  if (!token)
    throw new Problem("unauthorized", "send an API key as Authorization: Bearer <key>", {
      headers: { "www-authenticate": "Bearer" },
    });
  const key = findApiKey(keys, token);
  if (!key)
    throw new Problem("unauthorized", "the API key is not valid", {
      headers: { "www-authenticate": "Bearer" },
    });
  request.apiKey = key;
  if (scope !== undefined && !allows(key, scope)) {
    throw new Problem("forbidden", `this needs the ${scope} scope, which the API key does not have`);
  }
}

/** Any error as a problem: ours as they are, Fastify's by its code, the rest as internal. */
export function toProblem(error: unknown, request: FastifyRequest): Problem {
  if (error instanceof Problem) return error;
  if (error instanceof InputRejected) {
    return new Problem("invalid-input", error.message, { errors: error.violations });
  }
  const fastifyError = error as FastifyError & { validation?: { instancePath: string; message?: string }[] };
  if (fastifyError.validation) {
    const errors = fastifyError.validation.map((v) => ({
      path: v.instancePath || "/",
      message: v.message ?? "is invalid",
    }));
    return new Problem("bad-request", fastifyError.message, { errors });
  }
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new Problem(
        "payload-too-large",
        `the body is larger than this route accepts (${request.routeOptions.bodyLimit ?? JSON_BODY_LIMIT} bytes)`,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new Problem(
        "unsupported-media-type",
        `${request.headers["content-type"] ?? "no content type"} is not accepted here`,
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new Problem("bad-request", "the body is empty; send a JSON object");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case undefined:
      // Fastify's own message repeats ours ("Body is not valid JSON but content-type is set to…")
      // without a position; a SyntaxError's (JSON.parse's) has the position.
      if (fastifyError.code === "FST_ERR_CTP_INVALID_JSON_BODY")
        return new Problem("bad-request", "the body is not valid JSON");
      if (error instanceof SyntaxError)
        return new Problem("bad-request", `the body is not valid JSON: ${fastifyError.message}`);
  }
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode === 429) {
    return new Problem("rate-limited", fastifyError.message);
  }
  if (
    typeof fastifyError.statusCode === "number" &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return new Problem("bad-request", fastifyError.message);
  }
  request.log.error({ err: error }, "request failed");
  return new Problem("internal", "the request failed; the server log has the details");
}

export function sendProblem(problem: Problem, reply: FastifyReply): FastifyReply {
  return reply
    .code(problem.status)
    .headers(problem.headers)
    .type("application/problem+json")
    .send(problem.body());
}

/** `https://…/api/runs.schema.json` → `runs`: OpenAPI component names allow only [A-Za-z0-9._-]. */
function componentName(id: unknown, index: number): string {
  if (typeof id !== "string") return `schema-${index}`;
  const base = id.split(/[/#]/).filter(Boolean).pop() ?? `schema-${index}`;
  return base.replace(/\.schema\.json$|\.json$/, "").replace(/[^A-Za-z0-9._-]/g, "-");
}
