import { Ajv2020, type AnySchema, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { LRUCache } from "lru-cache";

/**
 * Compiles the JSON Schemas users write (a workflow's `inputs`, a node's
 * `outputSchema`, the validate op's `schema`), cached by the schema's JSON text:
 * runs check many values against one schema, and compiling is the expensive part.
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
export class SchemaCompiler {
  readonly #capacity: number;
  readonly #useDefaults: boolean;
  readonly #cache: LRUCache<string, ValidateFunction>;
  #ajv: Ajv2020;
  #compiledByAjv = 0;

  /** With `useDefaults`, validating fills in the schema's `default`s. */
  constructor(options: { useDefaults?: boolean; capacity?: number } = {}) {
    this.#capacity = options.capacity ?? 500;
    this.#useDefaults = options.useDefaults ?? false;
    this.#cache = new LRUCache({ max: this.#capacity });
    this.#ajv = this.#newAjv();
  }

  /** The validator for `schema`; throws Ajv's error for a schema that is not valid. */
  compile(schema: AnySchema): ValidateFunction {
    const key = JSON.stringify(schema);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    if (this.#compiledByAjv >= this.#capacity) {
      this.#ajv = this.#newAjv();
      this.#compiledByAjv = 0;
    }
    this.#compiledByAjv++;
    const validate = this.#ajv.compile(schema);
    this.#cache.set(key, validate);
    return validate;
  }

  #newAjv(): Ajv2020 {
    const ajv = new Ajv2020({
      allErrors: true,
      strict: false,
      addUsedSchema: false,
      logger: false,
      useDefaults: this.#useDefaults,
    });
    addFormats.default(ajv);
    return ajv;
  }
}
