import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { didYouMean } from "./suggest.ts";

/**
 * The JSON Schemas in `schemas/`, compiled once per process. Documents are
 * checked with all errors collected; user-supplied schemas (`inputs`,
 * `outputSchema`, the `validate` op) are checked against the 2020-12 meta-schema.
 */
export const SCHEMAS_DIR = join(import.meta.dirname, "..", "schemas");
const ID_BASE = "https://schemas.propertyflow.ai/pflow/v1/";

export type Kind = "Workflow" | "Model" | "WorkflowTest";

export interface SchemaSet {
  readonly ajv: Ajv2020;
  readonly documents: Readonly<Record<Kind, ValidateFunction>>;
  readonly ops: ReadonlyMap<string, ValidateFunction>;
  /** Looks up a schema by its reference, relative to the root schema of `kind`. */
  resolve(kind: Kind, ref: string): Record<string, unknown> | undefined;
  /**
   * What is wrong with a user-supplied JSON Schema (`inputs`, `outputSchema`, the
   * validate op's `schema`), as one sentence; undefined when it is valid. Template
   * strings are left alone: only a literal schema can be checked before a run.
   */
  userSchemaProblem(schema: unknown): string | undefined;
}

const SCHEMA_FILES: Readonly<Record<Kind, string>> = {
  Workflow: "workflow.schema.json",
  Model: "model.schema.json",
  WorkflowTest: "workflow-test.schema.json",
};

let cached: SchemaSet | undefined;

export function schemaSet(): SchemaSet {
  cached ??= buildSchemaSet();
  return cached;
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

function buildSchemaSet(): SchemaSet {
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    // if/then branches name properties without repeating type: object.
    strictTypes: false,
  });
  for (const file of ["common", "workflow", "model", "workflow-test", "definition"]) {
    ajv.addSchema(readJson(join(SCHEMAS_DIR, `${file}.schema.json`)));
  }
  // Compiled on first use, not here: a start-up of `pflow validate` compiles
  // only the kinds and ops its files use (compiling them all cost ~150 ms).
  const documents = {} as Record<Kind, ValidateFunction>;
  for (const kind of Object.keys(SCHEMA_FILES) as Kind[]) {
    Object.defineProperty(documents, kind, {
      enumerable: true,
      get: () => ajv.getSchema(`${ID_BASE}${SCHEMA_FILES[kind]}`) as ValidateFunction,
    });
  }
  const opsDir = join(SCHEMAS_DIR, "ops");
  const opFiles = new Map<string, string>();
  for (const file of readdirSync(opsDir).sort()) {
    if (file.endsWith(".schema.json")) opFiles.set(file.slice(0, -".schema.json".length), join(opsDir, file));
  }
  const ops = new LazyValidators(opFiles, (path) => ajv.compile(readJson(path)));
  // User schemas may use formats and keywords of their own: not strict, formats known.
  let userAjv: Ajv2020 | undefined;
  const user = () => {
    if (userAjv === undefined) {
      userAjv = new Ajv2020({ allErrors: true, strict: false, verbose: true });
      addFormats.default(userAjv);
    }
    return userAjv;
  };
  return {
    ajv,
    documents,
    ops,
    resolve(kind, ref) {
      const file = SCHEMA_FILES[kind];
      const absolute = ref.startsWith("#") ? `${ID_BASE}${file}${ref}` : `${ID_BASE}${ref}`;
      return ajv.getSchema(absolute)?.schema as Record<string, unknown> | undefined;
    },
    userSchemaProblem(schema) {
      if (typeof schema === "boolean" || typeof schema === "string") return undefined;
      if (user().validateSchema(schema as object)) return undefined;
      return describeMetaSchemaError(user().errors ?? []);
    },
  };
}

/** The op schemas by name, each compiled the first time it is asked for. */
class LazyValidators implements ReadonlyMap<string, ValidateFunction> {
  readonly #files: ReadonlyMap<string, string>;
  readonly #compile: (path: string) => ValidateFunction;
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor(files: ReadonlyMap<string, string>, compile: (path: string) => ValidateFunction) {
    this.#files = files;
    this.#compile = compile;
  }

  get size(): number {
    return this.#files.size;
  }

  get(name: string): ValidateFunction | undefined {
    let validate = this.#compiled.get(name);
    const path = this.#files.get(name);
    if (validate === undefined && path !== undefined) {
      validate = this.#compile(path);
      this.#compiled.set(name, validate);
    }
    return validate;
  }

  has(name: string): boolean {
    return this.#files.has(name);
  }

  keys(): MapIterator<string> {
    return this.#files.keys();
  }

  *values(): MapIterator<ValidateFunction> {
    for (const name of this.#files.keys()) yield this.get(name) as ValidateFunction;
  }

  *entries(): MapIterator<[string, ValidateFunction]> {
    for (const name of this.#files.keys()) yield [name, this.get(name) as ValidateFunction];
  }

  [Symbol.iterator](): MapIterator<[string, ValidateFunction]> {
    return this.entries();
  }

  forEach(
    callback: (value: ValidateFunction, key: string, map: ReadonlyMap<string, ValidateFunction>) => void,
  ): void {
    for (const [name, validate] of this.entries()) callback(validate, name, this);
  }
}

/**
 * The meta-schema reports one mistake several times (a failed anyOf and each of
 * its branches); the first error that is not a combinator says it best.
 */
function describeMetaSchemaError(errors: readonly ErrorObject[]): string {
  const error =
    errors.find((e) => !["anyOf", "oneOf", "allOf", "if", "$ref"].includes(e.keyword)) ?? errors[0];
  if (error === undefined) return "it is not a JSON Schema";
  const where = error.instancePath === "" ? "" : `at ${error.instancePath}, `;
  if (error.keyword === "enum") {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    const value = typeof error.data === "string" ? error.data : undefined;
    const hint = value === undefined ? "" : didYouMean(value, allowed.map(String));
    return `${where}${JSON.stringify(error.data)} is not one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}${hint}`;
  }
  return `${where}${error.message ?? "invalid"}`;
}
