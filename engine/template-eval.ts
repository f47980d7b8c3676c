import jsonata from "jsonata";
import { LRUCache } from "lru-cache";
import pLimit from "p-limit";
import type { ValueTemplate } from "../compiler/index.ts";
import type { ExecutionError } from "./errors.ts";
import { ExpressionFailed } from "./expression-error.ts";

/**
 * Evaluation of compiled templates and bare JSONata expressions at run time.
 *
 * Sandboxing: JSONata has no I/O of its own and reads only own properties of
 * its input, so an expression sees the context and nothing of the host. What it
 * can do is spend time and memory; JSONata's own guardrails bound that: a
 * wall-clock timeout and a depth limit, both checked each time an AST node is
 * evaluated, and a cap on the length of any sequence it builds. One call of a
 * built-in (a regular expression that backtracks, say) is not interrupted: the
 * check runs between steps, not inside them.
 */
export interface ExpressionLimits {
  /** Wall-clock milliseconds per expression (JSONata error D1012). */
  readonly timeoutMs: number;
  /** Evaluation depth (JSONata error D1011): non-terminating recursion stops here. */
  readonly maxDepth: number;
  /** Longest sequence an expression may build (JSONata error D2015). */
  readonly maxSequence: number;
}

export const DEFAULT_EXPRESSION_LIMITS: ExpressionLimits = Object.freeze({
  timeoutMs: 1000,
  maxDepth: 500,
  maxSequence: 100_000,
});

export type EvaluateOptions = Partial<ExpressionLimits>;

type Compiled = ReturnType<typeof jsonata>;

/**
 * Compiled expressions by limits and source. JSONata takes its limits when an
 * expression is compiled, not when it is evaluated, so they are part of the key.
 * A compiled expression is safe to evaluate concurrently: each evaluation gets
 * its own frame (only `$now()`'s timestamp is shared, off by microseconds).
 * Concurrent evaluations do share the timeout's clock, though (see evaluateValue).
 */
const compiled = new LRUCache<string, Compiled>({ max: 5000 });

/** The value of a compiled template: literals as they are, expressions evaluated against `context`. */
export async function evaluateTemplate(
  template: ValueTemplate,
  context: Record<string, unknown>,
  options?: EvaluateOptions,
): Promise<unknown> {
  return evaluateValue(template, context, limitsOf(options));
}

/**
 * The value of one bare JSONata expression (`transform.expr`, an http model's
 * `response`), as JSON: undefined (no match) is null.
 */
export async function evaluateExpression(
  source: string,
  context: unknown,
  options?: EvaluateOptions,
): Promise<unknown> {
  return toJson(await run(source, context, limitsOf(options)), source) ?? null;
}

/** The defaults, overridden by what `options` sets (an undefined field must not switch a limit off). */
function limitsOf(options: EvaluateOptions | undefined): ExpressionLimits {
  return {
    timeoutMs: options?.timeoutMs ?? DEFAULT_EXPRESSION_LIMITS.timeoutMs,
    maxDepth: options?.maxDepth ?? DEFAULT_EXPRESSION_LIMITS.maxDepth,
    maxSequence: options?.maxSequence ?? DEFAULT_EXPRESSION_LIMITS.maxSequence,
  };
}

/**
 * One expression after another, never concurrently: JSONata's timeout is wall
 * clock, and evaluations running side by side interleave at every step, so
 * each would be charged for the others' time.
 */
async function evaluateValue(
  template: ValueTemplate,
  context: unknown,
  limits: ExpressionLimits,
): Promise<unknown> {
  switch (template.t) {
    case "literal":
      return template.value;
    case "expression":
      return toJson(await run(template.expr, context, limits), template.expr) ?? null;
    case "interpolation": {
      let text = "";
      for (const part of template.parts) {
        text += typeof part === "string" ? part : asText(await run(part.expr, context, limits), part.expr);
      }
      return text;
    }
    case "object": {
      // Defined, not assigned: a "__proto__" key stays a key, not a prototype.
      const entries: [string, unknown][] = [];
      for (const [key, value] of template.entries) {
        entries.push([key, await evaluateValue(value, context, limits)]);
      }
      return Object.fromEntries(entries);
    }
    case "array": {
      const items: unknown[] = [];
      for (const item of template.items) items.push(await evaluateValue(item, context, limits));
      return items;
    }
  }
}

/** An interpolated part: strings as they are, nothing as "", anything else as JSON. */
function asText(value: unknown, source: string): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return JSON.stringify(toJson(value, source));
}

/**
 * One evaluation at a time in the process. JSONata's timeout is wall-clock and
 * evaluations interleave at every step, so side by side each would be charged
 * for the others' time and time out spuriously under load. Evaluation is CPU
 * work with no I/O, so running one at a time costs no throughput.
 */
const oneAtATime = pLimit(1);

async function run(source: string, context: unknown, limits: ExpressionLimits): Promise<unknown> {
  try {
    return await oneAtATime(() => compile(source, limits).evaluate(context));
  } catch (error) {
    throw expressionFailed(source, messageOf(error), error);
  }
}

function compile(source: string, limits: ExpressionLimits): Compiled {
  const key = `${limits.timeoutMs}:${limits.maxDepth}:${limits.maxSequence}:${source}`;
  let expression = compiled.get(key);
  if (expression === undefined) {
    expression = jsonata(source, {
      timeout: limits.timeoutMs,
      stack: limits.maxDepth,
      sequence: limits.maxSequence,
    });
    // JSONata formats its error messages as templates, which mangles a `{{x}}`
    // inside an `$error("…")` message; this $error, bound over the built-in,
    // throws with a code JSONata has no template for, so the message stays verbatim.
    expression.registerFunction("error", raiseError, "<s?:x>");
    compiled.set(key, expression);
  }
  return expression;
}

function raiseError(message: string | undefined): never {
  throw { code: "PFLOW_ERROR", message: message || "$error() function evaluated" };
}

function messageOf(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}

function expressionFailed(source: string, message: string, cause?: unknown): ExecutionError {
  const shown = source.length > 300 ? `${source.slice(0, 300)}…` : source;
  // Knows its source, so the worker can add the node and its YAML line (expression-error.ts).
  return new ExpressionFailed(source, `expression "${shown}" failed: ${message}`, { cause });
}

/**
 * JSONata's values as plain JSON: its sequences are arrays with extra
 * properties and its objects have a null prototype; a function (a lambda, a
 * built-in) is no JSON value at all. Undefined stays undefined here (the caller
 * decides between null and ""); inside objects it drops out, as in JSON.
 */
function toJson(value: unknown, source: string): unknown {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function") throw notJson(source);
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => toJson(item, source) ?? null);
  if ("_jsonata_lambda" in value || "_jsonata_function" in value) throw notJson(source);
  const entries: [string, unknown][] = [];
  for (const [key, item] of Object.entries(value)) {
    const json = toJson(item, source);
    if (json !== undefined) entries.push([key, json]);
  }
  return Object.fromEntries(entries);
}

function notJson(source: string): ExecutionError {
  return expressionFailed(source, "its value is a function, which is not a JSON value");
}

/** JSONata's $boolean: false, null, 0, "", [] and {} are false; an array is true if any item is. */
export function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.some(truthy);
  if (typeof value === "object") return Object.keys(value as object).length > 0;
  if (typeof value === "number") return !Number.isNaN(value);
  return true;
}
