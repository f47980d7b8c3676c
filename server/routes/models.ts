import { type AutoRollbackField, type CompiledModel, withAlias } from "../../compiler/index.ts";
import definitionsApi from "../../schemas/api/definitions.json" with { type: "json" };
import api from "../../schemas/api/models.json" with { type: "json" };
import type { RoutePlugin } from "../app.ts";
import { modelChanges } from "../model-history.ts";
import { Problem } from "../problems.ts";
import { actorOf, iso, registerUpload, validateUpload } from "../registry.ts";
import { COMMON_PROBLEMS, NAME_PARAMS, problemResponse } from "../route-schemas.ts";
import { registerRoute } from "./register-route.ts";

/**
 * The model registry: list, read, register new versions of a Model document,
 * and move an alias. Moving an alias edits the latest Model document and
 * registers the result as its next version, so the registry keeps one history
 * for both kinds of change, and the YAML served is always what is in effect.
 * Runs pin their models when they start: a move affects new runs only.
 */

interface AliasBody {
  readonly version: string;
  readonly canary?: {
    readonly version: string;
    readonly percent: number;
    readonly autoRollback?: AutoRollbackField;
  } | null;
  readonly reason?: string;
}

export const modelRoutes: RoutePlugin = async (app, { engine, validator }) => {
  const services = engine.services;
  const { store } = services;

  app.get(
    "/v1/models",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List the registered models",
        description: "The latest Model document of each registered model.",
        tags: ["models"],
        operationId: "listModels",
        response: { 200: api.modelList, ...COMMON_PROBLEMS },
      },
    },
    async () => {
      const records = await store.listDefinitions("Model");
      return {
        items: records.map((record) => {
          const model = record.compiled as CompiledModel;
          return {
            name: record.name,
            version: record.version,
            description: model.description,
            hash: record.hash,
            createdAt: iso(record.createdAt),
            versions: Object.keys(model.versions),
            defaultTarget: model.defaultTarget,
          };
        }),
      };
    },
  );

  app.get<{ Params: { name: string } }>(
    "/v1/models/:name",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "Get a model",
        description:
          "A model's versions and aliases as new runs resolve them now, what its bare name means, the YAML of its latest Model document, and that document's history.",
        tags: ["models"],
        operationId: "getModel",
        params: NAME_PARAMS,
        response: {
          200: api.modelDetail,
          400: problemResponse("The name is not valid"),
          404: problemResponse("No model of that name is registered"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const history = await store.listDefinitionVersions("Model", name);
      const latest = history.at(-1);
      if (!latest) throw new Problem("not-found", `no model "${name}" is registered`);
      const model = latest.compiled as CompiledModel;
      return {
        name,
        description: model.description,
        latest: latest.version,
        history: history.map((record) => ({
          version: record.version,
          hash: record.hash,
          createdAt: iso(record.createdAt),
        })),
        versions: Object.entries(model.versions).map(([version, fields]) => ({
          version,
          provider: fields.provider,
        })),
        aliases: model.aliases,
        defaultTarget: model.defaultTarget,
        definition: latest.source,
      };
    },
  );

  app.get<{ Params: { name: string } }>(
    "/v1/models/:name/history",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A model's history",
        description:
          "Every version of the Model document, newest first, with who registered it (an API key's id, " +
          "local, startup, or canary-analysis), when, why (`reason`), and what changed: alias moves (promote, " +
          "roll back), canaries set, cleared or rolled back, versions added, removed or moved to another stage.",
        tags: ["models"],
        operationId: "getModelHistory",
        params: NAME_PARAMS,
        response: {
          200: {
            type: "object",
            required: ["name", "items"],
            properties: {
              name: { type: "string" },
              items: {
                type: "array",
                items: {
                  type: "object",
                  required: ["version", "createdAt", "actor", "reason", "changes"],
                  properties: {
                    version: { type: "integer" },
                    createdAt: { type: "string", format: "date-time" },
                    actor: { type: ["string", "null"] },
                    reason: {
                      type: ["string", "null"],
                      description:
                        "Why: the reason given with an alias move, or the verdict of an automatic canary rollback",
                    },
                    changes: { type: "array", items: { type: "string" } },
                  },
                },
              },
            },
          },
          404: problemResponse("No model of that name"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const records = await store.listDefinitionVersions("Model", name);
      if (records.length === 0) throw new Problem("not-found", `no model "${name}" is registered`);
      const items = records.map((record, i) => ({
        version: record.version,
        createdAt: iso(record.createdAt),
        actor: record.actor ?? null,
        reason: record.reason ?? null,
        changes: modelChanges(
          i === 0 ? null : ((records[i - 1] as { compiled: unknown }).compiled as CompiledModel),
          record.compiled as CompiledModel,
        ),
      }));
      return { name, items: items.reverse() };
    },
  );

  registerRoute(app, services, validator, {
    kind: "Model",
    url: "/v1/models",
    tag: "models",
    operationId: "putModel",
    summary: "Register a model version",
    description:
      "Registers the Model document of the YAML body as the next version of the model's document. The body must hold exactly that one document, named as the path names it. The same content as the latest version is not a new version (200). New runs resolve references through the new document; runs in flight keep the versions they pinned.",
  });

  app.put<{ Params: { name: string; alias: string }; Body: AliasBody }>(
    "/v1/models/:name/aliases/:alias",
    {
      config: { scope: "definitions:write" },
      schema: {
        summary: "Point a model alias",
        description:
          "Promotes, rolls back, or sets or clears the canary of an alias (creating the alias if the model has none of that name). The alias is replaced as a whole: no canary in the body means none. The change is registered as a new version of the Model document, on top of the version it was computed from (409 if another change came first), with the body's `reason` in the history; new runs resolve the alias through it, runs in flight keep the versions they pinned.",
        tags: ["models"],
        operationId: "putModelAlias",
        params: {
          type: "object",
          required: ["name", "alias"],
          properties: { name: definitionsApi.name, alias: api.aliasName },
        },
        body: api.aliasBody,
        response: {
          200: api.aliasesChanged,
          400: problemResponse("The model has no such version, or the alias does not fit the model"),
          404: problemResponse("No model of that name is registered"),
          409: problemResponse(
            "The model changed while the move was made (another move, a canary rolled back): read it again and retry",
          ),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { name, alias } = request.params;
      const { version, canary, reason } = request.body;
      const record = await store.getDefinition("Model", name);
      if (!record) throw new Problem("not-found", `no model "${name}" is registered`);
      const model = record.compiled as CompiledModel;
      const known = Object.keys(model.versions);
      for (const [role, wanted] of [
        ["the alias", version],
        ["the canary", canary?.version],
      ] as const) {
        if (wanted !== undefined && !(wanted in model.versions)) {
          throw new Problem(
            "bad-request",
            `${role} cannot point to version "${wanted}": model "${name}" has versions ${known.join(", ")}`,
          );
        }
      }
      const text = withAlias(
        record.source,
        alias,
        canary
          ? {
              version,
              canary: {
                version: canary.version,
                percent: canary.percent,
                ...(canary.autoRollback ? { autoRollback: canary.autoRollback } : {}),
              },
            }
          : version,
      );
      const checked = await validateUpload(services, validator, text);
      // Computed from `record`: registered only if no other change came first (409 otherwise).
      const registered = await registerUpload(services, checked, "Model", name, {
        actor: actorOf(request),
        edit: { basedOn: record.version, reason: reason ?? null },
      });
      const updated = checked.set.models.get(name) as CompiledModel;
      return { name, version: registered.version, aliases: updated.aliases };
    },
  );
};
