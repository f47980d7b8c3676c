import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

/**
 * Request validation for every route. The app's validator does not coerce, so a JSON body's "3" stays a string and
 * fails where a number is wanted. But querystrings, path parameters and headers
 * arrive as text: `?limit=20` must read as 20. This validates bodies as the app
 * does and the other parts with coercion, and names the offending property in
 * additionalProperties and required errors.
 */
export function partAwareValidator(schemas: readonly object[]): FastifySchemaCompiler<unknown> {
  const strict = validatorAjv(false, schemas);
  const coercing = validatorAjv(true, schemas);
  return ({ schema, httpPart }) => {
    const validate = (httpPart === "body" ? strict : coercing).compile(schema as object);
    const named = (data: unknown) => {
      const valid = validate(data);
      named.errors = valid ? null : (validate.errors ?? []).map(namingProperty);
      return valid;
    };
    named.errors = null as ErrorObject[] | null;
    return named as unknown as ValidateFunction;
  };
}

function validatorAjv(coerceTypes: boolean, schemas: readonly object[]): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  addFormats.default(ajv);
  for (const schema of schemas) ajv.addSchema(schema);
  return ajv;
}

function namingProperty(error: ErrorObject): ErrorObject {
  const params = error.params as { additionalProperty?: string; missingProperty?: string };
  if (params.additionalProperty !== undefined) {
    return { ...error, message: `must NOT have the unknown property "${params.additionalProperty}"` };
  }
  if (params.missingProperty !== undefined) {
    return { ...error, message: `must have the property "${params.missingProperty}"` };
  }
  return error;
}
