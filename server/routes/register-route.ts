import type { FastifyInstance } from "fastify";
import type { EngineServices } from "../../engine/services.ts";
import definitionsApi from "../../schemas/api/definitions.json" with { type: "json" };
import { YAML_BODY_LIMIT } from "../app.ts";
import type { DefinitionValidator } from "../definition-validator.ts";
import { actorOf, registerUpload, requireYaml, validateUpload, YAML_BODY } from "../registry.ts";
import { COMMON_PROBLEMS, NAME_PARAMS, problemResponse } from "../route-schemas.ts";

/** What differs between the PUT routes of the two kinds of definition. */
export interface RegisterRoute {
  readonly kind: "Workflow" | "Model";
  readonly url: string;
  readonly tag: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
}

/**
 * `PUT <url>/:name`: registers the one document of the YAML body as the next
 * version of its kind and name, validated off the event loop together with the
 * registry. 201 for a new version, 200 when the content is the latest already.
 */
export function registerRoute(
  app: FastifyInstance,
  services: EngineServices,
  validator: DefinitionValidator,
  route: RegisterRoute,
): void {
  app.put<{ Params: { name: string }; Body: string }>(
    `${route.url}/:name`,
    {
      config: { scope: "definitions:write" },
      bodyLimit: YAML_BODY_LIMIT,
      onRequest: requireYaml,
      schema: {
        summary: route.summary,
        description: route.description,
        tags: [route.tag],
        operationId: route.operationId,
        params: NAME_PARAMS,
        body: YAML_BODY,
        response: {
          200: {
            ...definitionsApi.registered,
            description: "The same content is the latest version already",
          },
          201: { ...definitionsApi.registered, description: "A new version" },
          400: problemResponse(
            `invalid-definition: the findings are in \`errors\`; or the body is not one ${route.kind} of this name; or the name is not valid`,
          ),
          413: problemResponse("The body is larger than 8 MiB"),
          415: problemResponse("The body is not YAML"),
          ...COMMON_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const checked = await validateUpload(services, validator, request.body);
      const { version, created } = await registerUpload(services, checked, route.kind, name, {
        actor: actorOf(request),
      });
      return reply.code(created ? 201 : 200).send({ name, version, created });
    },
  );
}
