import { Ajv2020, type AnySchema, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { LRUCache } from "lru-cache";
import { ExecutionError } from "../errors.ts";

/**
 * Compiled validators for the JSON Schemas that workflows hand to the validate
 * op, cached by the schema's JSON text: a workflow run usually checks many items
 * against one schema, and compiling is the expensive part.
 *
 * User schemas may use formats and keywords of their own: not strict, formats
 * known, and an unknown format is ignored without a console warning (`logger:
 * false`): it is the workflow author's choice, not something for the operator's
 * log. `addUsedSchema: false` keeps a schema's `$id` out of the Ajv instance's
 * registry, so two different schemas that happen to share an `$id` (or reuse a
 * meta-schema's) do not collide.
 *
 * Ajv keeps its own reference to every schema it compiled, which the LRU bound
 * alone would not release; so the Ajv instance is replaced after as many
 * compiles as the cache holds. Validators compiled by the old instance keep
 * working, and it is freed once the cache has let go of them.
 */
const CAPACITY = 500;

let ajv = newAjv();
let compiledByAjv = 0;
const cache = new LRUCache<string, ValidateFunction>({ max: CAPACITY });

function newAjv(): Ajv2020 {
  const instance = new Ajv2020({ allErrors: true, strict: false, addUsedSchema: false, logger: false });
  addFormats.default(instance);
  return instance;
}

/** The validator for `schema`; an invalid schema is a non-retryable `op-arguments` error. */
export function compileUserSchema(schema: AnySchema): ValidateFunction {
  const key = JSON.stringify(schema);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  if (compiledByAjv >= CAPACITY) {
    ajv = newAjv();
    compiledByAjv = 0;
  }
  compiledByAjv++;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const message = `validate: schema is not a valid JSON Schema: ${reason}`;
    throw ExecutionError.nonRetryable("op-arguments", message, { cause: error });
  }
  cache.set(key, validate);
  return validate;
}
