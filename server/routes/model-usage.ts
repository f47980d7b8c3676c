import type { CompiledModel } from "../../compiler/index.ts";
import { latencyQuantile } from "../../engine/store/model-calls.ts";
import type { ModelCalls } from "../../engine/store/records.ts";
import type { RoutePlugin } from "../app.ts";
import { Problem } from "../problems.ts";
import { COMMON_PROBLEMS, NAME_PARAMS, problemResponse } from "../route-schemas.ts";
import { statisticsWindow } from "./model-health.ts";

/**
 * A model's calls over time (the console's Models page draws it): the last
 * `window` cut into `buckets` equal steps of whole minutes, and for each step
 * and version the calls, errors, timeouts and p95 latency, across every
 * worker. The Store sums calls from a minute on, so each step is the
 * difference of two such sums: `buckets + 1` reads, each of them one summing
 * query, whatever the number of calls.
 */
const MINUTE = 60_000;

export const modelUsageRoutes: RoutePlugin = async (app, { engine }) => {
  const { store, clock } = engine.services;

  app.get<{ Params: { name: string }; Querystring: { window?: string; buckets?: number } }>(
    "/v1/models/:name/usage",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A model's calls over time",
        description:
          "The last `window` (10m to 24h; default 24h) in `buckets` equal steps of whole minutes (1 to 96; default 24): " +
          "for each step and each version of the model, the calls, errors (timeouts included), timeouts and p95 latency, " +
          "across every worker.",
        tags: ["models"],
        operationId: "getModelUsage",
        params: NAME_PARAMS,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            window: { type: "string", pattern: "^[0-9]{1,9}(m|h)$", description: "e.g. 1h, 24h" },
            buckets: { type: "integer", minimum: 1, maximum: 96 },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["name", "window", "stepMs", "buckets"],
            properties: {
              name: { type: "string" },
              window: { type: "string" },
              stepMs: { type: "integer" },
              buckets: {
                type: "array",
                items: {
                  type: "object",
                  required: ["from", "to", "versions"],
                  properties: {
                    from: { type: "string", format: "date-time" },
                    to: { type: "string", format: "date-time" },
                    versions: {
                      type: "object",
                      additionalProperties: {
                        type: "object",
                        required: ["calls", "errors", "timeouts", "p95Ms"],
                        properties: {
                          calls: { type: "integer", minimum: 0 },
                          errors: { type: "integer", minimum: 0 },
                          timeouts: { type: "integer", minimum: 0 },
                          p95Ms: { type: ["number", "null"], minimum: 0 },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          400: problemResponse("The name, window or buckets are not valid"),
          404: problemResponse("No model of that name"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const window = request.query.window ?? "24h";
      const count = request.query.buckets ?? 24;
      const windowMs = statisticsWindow(window, "10m");
      const stepMs = Math.max(MINUTE, Math.round(windowMs / count / MINUTE) * MINUTE);
      const latest = (await store.listDefinitionVersions("Model", name)).at(-1);
      if (!latest) throw new Problem("not-found", `no model "${name}" is registered`);
      const versions = Object.keys((latest.compiled as CompiledModel).versions);
      const models = versions.map((version) => `${name}@${version}`);

      const now = clock();
      const end = now - (now % MINUTE) + MINUTE; // the end of the current minute
      const bounds = Array.from({ length: count + 1 }, (_, i) => end - (count - i) * stepMs);
      // sums[i]: the calls from bounds[i] on; a step is the difference of its two bounds' sums.
      const sums = await Promise.all(bounds.map((since) => store.modelCalls(models, since)));
      const buckets = bounds.slice(0, -1).map((from, i) => ({
        from: new Date(from).toISOString(),
        to: new Date(bounds[i + 1] as number).toISOString(),
        versions: Object.fromEntries(
          versions.map((version) => {
            const model = `${name}@${version}`;
            return [version, figures(difference(sums[i]?.[model], sums[i + 1]?.[model]))];
          }),
        ),
      }));
      return { name, window, stepMs, buckets };
    },
  );
};

const NONE: ModelCalls = { calls: 0, errors: 0, timeouts: 0, latency: [] };

/** a − b, never below zero: a call recorded between the two reads must not make a step negative. */
function difference(a: ModelCalls | undefined, b: ModelCalls | undefined): ModelCalls {
  const x = a ?? NONE;
  const y = b ?? NONE;
  const length = Math.max(x.latency.length, y.latency.length);
  return {
    calls: Math.max(0, x.calls - y.calls),
    errors: Math.max(0, x.errors - y.errors),
    timeouts: Math.max(0, x.timeouts - y.timeouts),
    latency: Array.from({ length }, (_, i) => Math.max(0, (x.latency[i] ?? 0) - (y.latency[i] ?? 0))),
  };
}

function figures(calls: ModelCalls) {
  return {
    calls: calls.calls,
    errors: calls.errors,
    timeouts: calls.timeouts,
    p95Ms: latencyQuantile(calls.latency, 0.95),
  };
}
