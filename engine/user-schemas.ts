import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { LRUCache } from "lru-cache";

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
  readonly #withDefaults = new Ajv2020({ allErrors: true, strict: false, useDefaults: true });
  readonly #plain = new Ajv2020({ allErrors: true, strict: false });
  readonly #compiled = new LRUCache<string, ValidateFunction>({ max: 2000 });

  constructor() {
    addFormats.default(this.#withDefaults);
    addFormats.default(this.#plain);
  }

  /** Validates (and fills defaults into) `value` in place; returns the violations. */
  applyDefaultsAndValidate(schema: unknown, value: unknown): Violation[] {
    return this.#validate(this.#withDefaults, "defaults", schema, value);
  }

  validate(schema: unknown, value: unknown): Violation[] {
    return this.#validate(this.#plain, "plain", schema, value);
  }

  #validate(ajv: Ajv2020, flavour: string, schema: unknown, value: unknown): Violation[] {
    if (schema === null || schema === undefined || schema === true) return [];
    const key = `${flavour}\u0000${JSON.stringify(schema)}`;
    let validate = this.#compiled.get(key);
    if (!validate) {
      validate = ajv.compile(schema as object);
      this.#compiled.set(key, validate);
    }
    return validate(value) ? [] : (validate.errors ?? []).map(toViolation);
  }
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
