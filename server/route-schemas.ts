import definitionsApi from "../schemas/api/definitions.json" with { type: "json" };

/**
 * Response and parameter schemas the registry routes share (workflows, models,
 * dead letters), so the OpenAPI document describes their problems alike.
 */
export function problemResponse(description: string) {
  return { description, content: { "application/problem+json": { schema: definitionsApi.problem } } };
}

/** What any authenticated route may answer. */
export const COMMON_PROBLEMS = {
  401: problemResponse("No API key, or not a valid one"),
  403: problemResponse("The API key lacks the scope this needs"),
  429: problemResponse("Too many requests; Retry-After says when to try again"),
  500: problemResponse("Internal error; the server log has the details"),
};

/** `:name` of a workflow or model. */
export const NAME_PARAMS = {
  type: "object",
  required: ["name"],
  properties: { name: definitionsApi.name },
};
