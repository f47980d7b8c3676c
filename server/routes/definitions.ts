import type { ExecutionPlan } from "../../compiler/index.ts";
import { validationJson } from "../../compiler/index.ts";
import api from "../../schemas/api/definitions.json" with { type: "json" };
import { type RoutePlugin, YAML_BODY_LIMIT } from "../app.ts";
import { Problem } from "../problems.ts";
import { iso, requireYaml, validateUpload, YAML_BODY } from "../registry.ts";
import { COMMON_PROBLEMS, NAME_PARAMS, problemResponse } from "../route-schemas.ts";
import { workflowHint } from "../workflow-hint.ts";
import { registerRoute } from "./register-route.ts";

/**
 * The workflow registry: list, read, and register new versions from YAML, plus
 * POST /v1/validate. A new version is validated together with the registry, so
 * its references resolve as they will when it runs; a run pins the version it
 * started on, so registering never changes a run in flight.
 */

export const definitionRoutes: RoutePlugin = async (app, { engine, validator }) => {
  const services = engine.services;
  const { store } = services;

  app.get(
    "/v1/workflows",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List the registered workflows",
        description: "The latest version of each registered workflow.",
        tags: ["workflows"],
        operationId: "listWorkflows",
        response: { 200: api.workflowList, ...COMMON_PROBLEMS },
      },
    },
    async () => {
      const records = await store.listDefinitions("Workflow");
      return {
        items: records.map((record) => {
          const plan = record.compiled as ExecutionPlan;
          return {
            name: record.name,
            version: record.version,
            description: plan.description,
            labels: plan.labels,
            hash: record.hash,
            createdAt: iso(record.createdAt),
          };
        }),
      };
    },
  );

  app.get<{ Params: { name: string }; Querystring: { plan?: "true" | "false" } }>(
    "/v1/workflows/:name",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "Get a workflow",
        description: "A workflow with every version registered and the YAML of the latest.",
        tags: ["workflows"],
        operationId: "getWorkflow",
        params: NAME_PARAMS,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            plan: {
              description: "true: include the latest version's execution plan.",
              type: "string",
              enum: ["true", "false"],
            },
          },
        },
        response: {
          200: api.workflowDetail,
          400: problemResponse("The name or query is not valid"),
          404: problemResponse("No workflow of that name is registered"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { name } = request.params;
      const versions = await store.listDefinitionVersions("Workflow", name);
      const latest = versions.at(-1);
      if (!latest)
        throw new Problem(
          "not-found",
          `no workflow "${name}" is registered${await workflowHint(store, name)}`,
        );
      const plan = latest.compiled as ExecutionPlan;
      return {
        name,
        description: plan.description,
        labels: plan.labels,
        latest: latest.version,
        versions: versions.map((record) => ({
          version: record.version,
          hash: record.hash,
          createdAt: iso(record.createdAt),
        })),
        definition: latest.source,
        ...(request.query.plan === "true" ? { plan } : {}),
      };
    },
  );

  registerRoute(app, services, validator, {
    kind: "Workflow",
    url: "/v1/workflows",
    tag: "workflows",
    operationId: "putWorkflow",
    summary: "Register a workflow version",
    description:
      "Registers the Workflow document of the YAML body as the workflow's next version. The body must hold exactly that one document, named as the path names it; its model and sub-workflow references are resolved against the registry. The same content as the latest version is not a new version (200); new runs get the new version, runs in flight keep theirs.",
  });

  app.post<{ Body: string }>(
    "/v1/validate",
    {
      // Validating changes nothing, so reading is enough.
      config: { scope: "runs:read" },
      bodyLimit: YAML_BODY_LIMIT,
      onRequest: requireYaml,
      schema: {
        summary: "Validate definitions",
        description:
          "Validates the YAML body as one file (path request.yaml) and answers with the JSON of `pflow validate --format json`: findings are the answer, so invalid YAML is a 200 too. References resolve against the registered definitions, whose own findings are not reported; a document of the body takes the place of the registered one of its kind and name.",
        tags: ["workflows"],
        operationId: "validateDefinitions",
        body: YAML_BODY,
        response: {
          200: api.validation,
          413: problemResponse("The body is larger than 8 MiB"),
          415: problemResponse("The body is not YAML"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request) => {
      const { report } = await validateUpload(services, validator, request.body);
      return validationJson([report]);
    },
  );
};
