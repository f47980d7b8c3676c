import type { TriggerView } from "../../engine/triggers/triggers.ts";
import type { RoutePlugin } from "../app.ts";
import { Problem } from "../problems.ts";
import { iso } from "../registry.ts";
import { COMMON_PROBLEMS, problemResponse } from "../route-schemas.ts";

/**
 * The triggers in force (those the latest version of each workflow declares),
 * with their state, and pausing and resuming them. A pause is kept in the
 * Store: every process honours it (within PFLOW_TRIGGER_REFRESH for event
 * consumers in other processes; cron and webhooks read it when they fire).
 */
const TRIGGER = {
  type: "object",
  required: [
    "id",
    "workflow",
    "kind",
    "paused",
    "nextFireAt",
    "lastFireAt",
    "lastRunId",
    "lastError",
    "lastErrorAt",
    "fired",
    "failed",
    "detail",
  ],
  additionalProperties: false,
  properties: {
    id: {
      type: "string",
      description:
        "`workflow.name`: the name is the trigger's `name`, a webhook's name, or kind-position (cron-1).",
    },
    workflow: { type: "string" },
    kind: { enum: ["cron", "event", "webhook"] },
    paused: { type: "boolean" },
    nextFireAt: {
      type: ["string", "null"],
      format: "date-time",
      description: "cron: the next tick (null when paused); other kinds: null.",
    },
    lastFireAt: { type: ["string", "null"], format: "date-time", description: "When it last started a run." },
    lastRunId: { type: ["string", "null"] },
    lastError: { type: ["string", "null"], description: "Why its last failed firing failed." },
    lastErrorAt: { type: ["string", "null"], format: "date-time" },
    fired: { type: "integer", minimum: 0, description: "Runs started, in all processes." },
    failed: { type: "integer", minimum: 0, description: "Firings that failed, in all processes." },
    detail: {
      type: "object",
      additionalProperties: { type: "string" },
      description: "cron: cron, timezone, overlap, catchUp; event: exchange, routingKey; webhook: path.",
    },
  },
};

const ID_PARAMS = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[a-z][a-z0-9-]{0,62}\\.[a-z][a-z0-9-]{0,62}$" } },
};

function triggerJson(view: TriggerView) {
  const time = (ms: number | null) => (ms === null ? null : iso(ms));
  return {
    ...view,
    nextFireAt: time(view.nextFireAt),
    lastFireAt: time(view.lastFireAt),
    lastErrorAt: time(view.lastErrorAt),
  };
}

export const triggerRoutes: RoutePlugin = async (app, { engine }) => {
  app.get(
    "/v1/triggers",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List triggers",
        description:
          "Every trigger the latest version of a workflow declares (cron, event, webhook), by id, with its next fire time (cron), last fire, last run, last error, counts and whether it is paused.",
        tags: ["triggers"],
        operationId: "listTriggers",
        response: {
          200: {
            type: "object",
            required: ["items"],
            properties: { items: { type: "array", items: TRIGGER } },
          },
          ...COMMON_PROBLEMS,
        },
      },
    },
    async () => ({ items: (await engine.triggers.list()).map(triggerJson) }),
  );

  for (const action of ["pause", "resume"] as const) {
    app.post<{ Params: { id: string } }>(
      `/v1/triggers/:id/${action}`,
      {
        config: { scope: "admin" },
        schema: {
          summary: action === "pause" ? "Pause a trigger" : "Resume a trigger",
          description:
            action === "pause"
              ? "A paused trigger starts nothing: cron ticks pass, event messages wait in the trigger's queue, its webhook answers 409. Idempotent."
              : "Starts firing again. Cron ticks that passed while it was paused are not caught up; event messages that waited are handled. Idempotent.",
          tags: ["triggers"],
          operationId: action === "pause" ? "pauseTrigger" : "resumeTrigger",
          params: ID_PARAMS,
          response: {
            200: TRIGGER,
            400: problemResponse("The id is not of the form workflow.name"),
            404: problemResponse("No trigger of that id is in force"),
            ...COMMON_PROBLEMS,
          },
        },
      },
      async (request) => {
        const { id } = request.params;
        const state = await engine.triggers.setPaused(id, action === "pause");
        if (!state) throw new Problem("not-found", `no trigger "${id}" is in force`);
        request.log.info({ trigger: id, key: request.apiKey?.id ?? "local" }, `trigger ${action}d`);
        const view = (await engine.triggers.list()).find((trigger) => trigger.id === id);
        if (!view) throw new Problem("not-found", `no trigger "${id}" is in force`);
        return triggerJson(view);
      },
    );
  }
};
