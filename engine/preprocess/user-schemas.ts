import type { AnySchema, ValidateFunction } from "ajv/dist/2020.js";
import { ExecutionError } from "../errors.ts";
import { SchemaCompiler } from "../schema-compiler.ts";

/** The schemas the validate op checks data against (see SchemaCompiler). */
const compiler = new SchemaCompiler();

/** The validator for `schema`; an invalid schema is a non-retryable `op-arguments` error. */
export function compileUserSchema(schema: AnySchema): ValidateFunction {
  try {
    return compiler.compile(schema);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const message = `validate: schema is not a valid JSON Schema: ${reason}`;
    throw ExecutionError.nonRetryable("op-arguments", message, { cause: error });
  }
}
