import type { AnySchema, ErrorObject } from "ajv/dist/2020.js";
import { SchemaCompiler } from "./schema-compiler.ts";

/**
 * The JSON Schemas users write (a workflow's `inputs`, a node's `outputSchema`),
 * compiled once per distinct schema. Input validation applies `default`s, as the
 * language promises; output validation never changes the output.
 */
export interface Violation {
  readonly path: string;
  readonly message: string;
}

export class UserSchemas {
  readonly #withDefaults = new SchemaCompiler({ useDefaults: true, capacity: 2000 });
  readonly #plain = new SchemaCompiler({ capacity: 2000 });

  /** Validates (and fills defaults into) `value` in place; returns the violations. */
  applyDefaultsAndValidate(schema: unknown, value: unknown): Violation[] {
    return violationsOf(this.#withDefaults, schema, value);
  }

  validate(schema: unknown, value: unknown): Violation[] {
    return violationsOf(this.#plain, schema, value);
  }
}

function violationsOf(compiler: SchemaCompiler, schema: unknown, value: unknown): Violation[] {
  if (schema === null || schema === undefined || schema === true) return [];
  const validate = compiler.compile(schema as AnySchema);
  return validate(value) ? [] : (validate.errors ?? []).map(toViolation);
}

function toViolation(error: ErrorObject): Violation {
  const params = error.params as Record<string, unknown>;
  const extra =
    error.keyword === "additionalProperties"
      ? ` (${String(params.additionalProperty)})`
      : error.keyword === "enum"
        ? `: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`
        : "";
  const path =
    error.keyword === "required"
      ? `${error.instancePath}/${String(params.missingProperty)}`
      : error.instancePath;
  return { path: path || "/", message: `${error.message ?? "is invalid"}${extra}` };
}

export function describeViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.path} ${v.message}`).join("; ");
}
