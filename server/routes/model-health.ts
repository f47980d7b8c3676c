import type { CompiledModel } from "../../compiler/index.ts";
import { parseDuration } from "../../compiler/index.ts";
import { judgeModelCanaries } from "../../engine/canary-analysis.ts";
import { latencyQuantile } from "../../engine/store/model-calls.ts";
import type { ModelCalls } from "../../engine/store/records.ts";
import type { RoutePlugin } from "../app.ts";
import { Problem } from "../problems.ts";
import { COMMON_PROBLEMS, NAME_PARAMS, problemResponse } from "../route-schemas.ts";

/**
 * A model's health, version by version, over a recent window: calls, error
 * and timeout rates, and latency quantiles, from the call statistics every
 * worker process adds to the Store (per minute, so the window starts at a
 * minute boundary). Errors include timeouts; cache hits are not calls.
 */

const RATE = { type: ["number", "null"], minimum: 0, maximum: 1, description: "null without calls" };
const MILLISECONDS = { type: ["number", "null"], minimum: 0, description: "ms; null without calls" };
const FIGURES = {
  type: "object",
  required: ["version", "calls", "errorRate", "p95Ms"],
  properties: {
    version: { type: "string" },
    calls: { type: "integer", minimum: 0 },
    errorRate: RATE,
    p95Ms: MILLISECONDS,
  },
};

export const modelHealthRoutes: RoutePlugin = async (app, { engine }) => {
  const { store, clock } = engine.services;

  app.get<{ Params: { name: string }; Querystring: { window?: string } }>(
    "/v1/models/:name/health",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A model's health",
        description:
          "For each version of the model: calls, error rate (timeouts included), timeout rate and latency " +
          "p50/p95/p99 over the last `window` (a duration from 1m to 24h; default 5m), across every worker; " +
          "and for each alias whose canary has autoRollback, the verdict of canary analysis as it stands.",
        tags: ["models"],
        operationId: "getModelHealth",
        params: NAME_PARAMS,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            window: { type: "string", pattern: "^[0-9]{1,9}(s|m|h)$", description: "e.g. 5m, 1h" },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["name", "window", "since", "versions", "canaries"],
            properties: {
              name: { type: "string" },
              window: { type: "string" },
              since: { type: "string", format: "date-time" },
              versions: {
                type: "object",
                additionalProperties: {
                  type: "object",
                  required: ["calls", "errorRate", "timeoutRate", "latencyMs"],
                  properties: {
                    calls: { type: "integer", minimum: 0 },
                    errorRate: RATE,
                    timeoutRate: RATE,
                    latencyMs: {
                      type: "object",
                      required: ["p50", "p95", "p99"],
                      properties: { p50: MILLISECONDS, p95: MILLISECONDS, p99: MILLISECONDS },
                    },
                  },
                },
              },
              canaries: {
                description:
                  "Each alias whose canary has autoRollback: what canary analysis makes of it now, from the calls " +
                  "of the canary and of the alias's own version since the canary was set (not over `window`).",
                type: "object",
                additionalProperties: {
                  type: "object",
                  required: ["since", "decision", "reason", "canary", "base"],
                  properties: {
                    since: { type: "string", format: "date-time" },
                    decision: { type: "string", enum: ["wait", "keep", "roll-back"] },
                    reason: { type: "string" },
                    canary: FIGURES,
                    base: FIGURES,
                  },
                },
              },
            },
          },
          400: problemResponse("The name or the window is not valid"),
          404: problemResponse("No model of that name"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const window = request.query.window ?? "5m";
      const windowMs = statisticsWindow(window, "1m");
      const history = await store.listDefinitionVersions("Model", name);
      const latest = history.at(-1);
      if (!latest) throw new Problem("not-found", `no model "${name}" is registered`);
      const versions = Object.keys((latest.compiled as CompiledModel).versions);
      const from = clock() - windowMs;
      const since = from - (from % 60_000);
      const calls = await store.modelCalls(
        versions.map((version) => `${name}@${version}`),
        since,
      );
      return {
        name,
        window,
        since: new Date(since).toISOString(),
        versions: Object.fromEntries(
          versions.map((version) => [version, health(calls[`${name}@${version}`])]),
        ),
        // The verdict the next analysis would reach; judging is all it does here, it never rolls back.
        canaries: Object.fromEntries(
          (await judgeModelCanaries(store, name, history)).map(({ alias, since, verdict }) => [
            alias,
            { since: new Date(since).toISOString(), ...verdict },
          ]),
        ),
      };
    },
  );
};

function health(calls: ModelCalls | undefined) {
  const n = calls?.calls ?? 0;
  const latency = calls?.latency ?? [];
  return {
    calls: n,
    errorRate: n === 0 ? null : (calls?.errors ?? 0) / n,
    timeoutRate: n === 0 ? null : (calls?.timeouts ?? 0) / n,
    latencyMs: {
      p50: latencyQuantile(latency, 0.5),
      p95: latencyQuantile(latency, 0.95),
      p99: latencyQuantile(latency, 0.99),
    },
  };
}

/** A `window` query of the model statistics routes: a duration from `shortest` to 24h, in ms; else a 400. */
export function statisticsWindow(window: string, shortest: string): number {
  const windowMs = parseDuration(window);
  if (windowMs === undefined || windowMs < (parseDuration(shortest) as number) || windowMs > WINDOW_MAX_MS)
    throw new Problem("bad-request", `window must be a duration from ${shortest} to 24h, not "${window}"`);
  return windowMs;
}

const WINDOW_MAX_MS = 24 * 3_600_000;
