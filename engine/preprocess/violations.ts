import type { ErrorObject } from "ajv/dist/2020.js";

/**
 * Ajv errors as one line each, `<instance path> <message>`, for the op-argument
 * check and the validate op alike. Ajv's messages leave out the one detail a
 * reader needs for a few keywords (which property is extra, which values are
 * allowed), so that detail is appended here.
 */
export function describeViolations(errors: readonly ErrorObject[]): string[] {
  return errors.map((error) => {
    const where = error.instancePath === "" ? "(root)" : error.instancePath;
    return `${where} ${error.message ?? "is invalid"}${detail(error)}`;
  });
}

function detail(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
    case "unevaluatedProperties": {
      const name = params.additionalProperty ?? params.unevaluatedProperty;
      return name === undefined ? "" : ` (${JSON.stringify(name)})`;
    }
    case "enum":
      return `: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "const":
      return `: ${JSON.stringify(params.allowedValue)}`;
    default:
      return "";
  }
}
