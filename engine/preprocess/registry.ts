import { Ajv2020, type AnySchema, type ValidateFunction } from "ajv/dist/2020.js";
import { schemaSet } from "../../compiler/schemas.ts";
import { didYouMean } from "../../compiler/suggest.ts";
import { ExecutionError } from "../errors.ts";
import { chunkText } from "./chunk-text.ts";
import { jsonParse } from "./json-parse.ts";
import { normalizeText } from "./normalize-text.ts";
import type { PreprocessOp } from "./op.ts";
import { redactPii } from "./redact-pii.ts";
import { validate } from "./validate.ts";
import { describeViolations } from "./violations.ts";

/**
 * The preprocess ops a run can call, by name. Before an op runs, its resolved
 * `with` is checked against the op's schema (schemas/ops/<name>.schema.json),
 * with the schema's defaults filled in, so every op sees complete arguments.
 *
 * Adding an op takes three things: its argument schema in schemas/ops/ (which
 * the definition validator also checks `with` against), a file here exporting
 * the PreprocessOp, and one `register` line in builtInOps().
 */
export class PreprocessRegistry {
  readonly #ops = new Map<string, PreprocessOp>();
  readonly #checks = new Map<string, ValidateFunction>();
  // The shared schema set compiles op schemas without useDefaults (the
  // definition validator must not change documents); this one fills defaults in.
  #ajv: Ajv2020 | undefined;

  /** Adds `op`; its name must be new and have a schema in schemas/ops/. */
  register(op: PreprocessOp): this {
    if (this.#ops.has(op.name)) throw new Error(`preprocess op "${op.name}" is registered twice`);
    if (!schemaSet().ops.has(op.name)) {
      throw new Error(`preprocess op "${op.name}" has no schema: add schemas/ops/${op.name}.schema.json`);
    }
    this.#ops.set(op.name, op);
    return this;
  }

  get(name: string): PreprocessOp | undefined {
    return this.#ops.get(name);
  }

  /** The registered op names, sorted. */
  names(): string[] {
    return [...this.#ops.keys()].sort();
  }

  /**
   * Runs op `name` on `rawArgs` (left untouched: defaults go into a copy).
   * Throws a non-retryable `unknown-op` or `op-arguments` ExecutionError, or
   * whatever the op throws.
   */
  async run(name: string, rawArgs: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<unknown> {
    const op = this.#ops.get(name);
    if (op === undefined) {
      const known = this.names();
      throw ExecutionError.nonRetryable(
        "unknown-op",
        `unknown preprocess op "${name}"${didYouMean(name, known)}; the ops are ${known.join(", ")}`,
      );
    }
    const args = structuredClone(rawArgs) as Record<string, unknown>;
    const check = this.#check(name);
    if (!check(args)) {
      const violations = describeViolations(check.errors ?? []);
      throw ExecutionError.nonRetryable(
        "op-arguments",
        `${name}: with does not fit the op's schema: ${violations.join("; ")}`,
      );
    }
    signal.throwIfAborted();
    return await op.run(args, signal);
  }

  #check(name: string): ValidateFunction {
    let check = this.#checks.get(name);
    if (check === undefined) {
      this.#ajv ??= new Ajv2020({ useDefaults: true, allErrors: true, strict: false });
      check = this.#ajv.compile(schemaSet().ops.get(name)?.schema as AnySchema);
      this.#checks.set(name, check);
    }
    return check;
  }
}

/** A registry of the five built-in ops of the language spec. */
export function builtInOps(): PreprocessRegistry {
  return new PreprocessRegistry()
    .register(normalizeText)
    .register(chunkText)
    .register(redactPii)
    .register(validate)
    .register(jsonParse);
}
