import { type ExpressionAnalysis, type ExpressionCache, JSONATA_FUNCTIONS } from "./expressions.ts";
import type { JsonValue, ValueTemplate } from "./plan.ts";
import { pointerOf } from "./positions.ts";
import type { FindingSink } from "./schema-findings.ts";
import { closest, didYouMean } from "./suggest.ts";
import { scanTemplate } from "./templates.ts";

/**
 * Compiles values whose strings may hold `{{ }}` into ValueTemplates, checking
 * every expression on the way: syntax, the context names it reads, and the nodes
 * it references (reported to `onNodeReference`, which derives dependencies).
 */
export interface ExpressionScope {
  readonly expressions: ExpressionCache;
  /**
   * Names the context offers at its root, e.g. inputs, nodes, run (+ item, index
   * in a map); null where the context is data of unknown shape (a reply body).
   */
  readonly roots: ReadonlySet<string> | null;
  readonly report: FindingSink;
  /** True where dependencies need not be derived (outputs; a node with needs). */
  readonly dependenciesListed: boolean;
  /** The fields `inputs` may have (the inputs schema's), or undefined where any may be there. */
  readonly inputFields?: ReadonlySet<string> | undefined;
  onNodeReference(nodeId: string, pointer: string): void;
  /** Each `nodes.<id>.output.<field>` read, to check against the node's outputSchema. */
  onOutputField?(nodeId: string, field: string, source: string, pointer: string): void;
}

const LITERAL_NULL: ValueTemplate = Object.freeze({ t: "literal", value: null });

export function compileValue(value: unknown, pointer: string, scope: ExpressionScope): ValueTemplate {
  if (value === undefined) return LITERAL_NULL;
  if (!hasTemplate(value)) return { t: "literal", value: value as JsonValue };
  if (typeof value === "string") return compileString(value, pointer, scope);
  if (Array.isArray(value)) {
    return { t: "array", items: value.map((item, i) => compileValue(item, `${pointer}/${i}`, scope)) };
  }
  const entries = Object.entries(value as Record<string, unknown>).map(
    ([key, item]) => [key, compileValue(item, pointer + pointerOf(key), scope)] as const,
  );
  return { t: "object", entries };
}

/**
 * An expression that must be one `{{ e }}` (when, map items). A literal (no
 * braces) is reported, since it is almost always a forgotten pair of braces.
 */
export function compileSingleExpression(
  value: string,
  pointer: string,
  field: string,
  scope: ExpressionScope,
): ValueTemplate {
  const compiled = compileString(value, pointer, scope);
  if (compiled.t !== "expression") {
    scope.report(
      "schema",
      `${field} must be one expression written as "{{ … }}", not ${JSON.stringify(value)}`,
      pointer,
    );
  }
  return compiled;
}

/** A bare JSONata expression (transform.expr, an http provider's response). */
export function checkBareExpression(
  source: string,
  pointer: string,
  field: string,
  scope: ExpressionScope,
): void {
  if (/^\s*\{\{[\s\S]*\}\}\s*$/.test(source)) {
    scope.report("expression-syntax", `${field} is bare JSONata: drop the {{ }} around it`, pointer);
    return;
  }
  checkExpression(source, pointer, scope);
}

function compileString(text: string, pointer: string, scope: ExpressionScope): ValueTemplate {
  const scanned = scanTemplate(text, (source) => scope.expressions.parse(source).ok);
  switch (scanned.kind) {
    case "literal":
      return { t: "literal", value: text };
    case "unclosed":
      scope.report(
        "expression-syntax",
        `"{{" at character ${scanned.offset + 1} is never closed with "}}" in ${JSON.stringify(text)}`,
        pointer,
      );
      return { t: "literal", value: text };
    case "expression":
      checkExpression(scanned.expression.source, pointer, scope);
      return { t: "expression", expr: scanned.expression.source };
    case "interpolation":
      return {
        t: "interpolation",
        parts: scanned.parts.map((part) => {
          if (typeof part === "string") return part;
          checkExpression(part.source, pointer, scope);
          return { expr: part.source };
        }),
      };
  }
}

function checkExpression(source: string, pointer: string, scope: ExpressionScope): void {
  if (source === "") {
    scope.report("expression-syntax", "empty expression: write something between {{ and }}", pointer);
    return;
  }
  const parsed = scope.expressions.parse(source);
  if (!parsed.ok) {
    const where = parsed.position === undefined ? "" : ` at character ${parsed.position}`;
    scope.report(
      "expression-syntax",
      `${parsed.message}${where} in expression ${JSON.stringify(source)}`,
      pointer,
    );
    return;
  }
  checkReferences(parsed.analysis, source, pointer, scope);
}

function checkReferences(
  analysis: ExpressionAnalysis,
  source: string,
  pointer: string,
  scope: ExpressionScope,
): void {
  checkFunctions(analysis, source, pointer, scope);
  if (scope.roots === null) return;
  for (const root of analysis.roots) {
    if (scope.roots.has(root)) continue;
    scope.report(
      "unknown-reference",
      `expression ${JSON.stringify(source)} reads "${root}", which is not in its context` +
        `${didYouMean(root, scope.roots)}; the context has ${[...scope.roots].join(", ")}`,
      pointer,
    );
  }
  if (scope.roots.has("nodes")) {
    for (const id of analysis.nodes) scope.onNodeReference(id, pointer);
    if (analysis.dynamicNodes && !scope.dependenciesListed) {
      scope.report(
        "dynamic-reference",
        `expression ${JSON.stringify(source)} reads nodes without naming one, so its dependencies cannot be derived; list them in needs`,
        pointer,
        "value",
        "warning",
      );
    }
  }
  if (scope.inputFields !== undefined && scope.roots.has("inputs")) {
    for (const field of analysis.inputFields) {
      if (scope.inputFields.has(field)) continue;
      const declared = [...scope.inputFields];
      scope.report(
        "unknown-input",
        `expression ${JSON.stringify(source)} reads inputs.${field}, which the inputs schema does not declare` +
          `${didYouMean(field, declared)}; it declares ${declared.length === 0 ? "no field" : declared.join(", ")}`,
        pointer,
        "value",
        "error",
        `inputs.${field}`,
      );
    }
  }
  if (scope.onOutputField !== undefined && scope.roots.has("nodes")) {
    for (const read of analysis.outputFields) {
      const [node, field] = read.split("\u0000") as [string, string];
      scope.onOutputField(node, field, source, pointer);
    }
  }
  for (const name of analysis.relative) {
    scope.report(
      "relative-reference",
      `in ${JSON.stringify(source)}, "${name}" inside a predicate or after a path step means a field of the current item; write "$$.${name}…" for the workflow's ${name}`,
      pointer,
      "value",
      "warning",
    );
  }
}

/** A call of a function JSONata does not have, and the expression does not define, fails at run time. */
function checkFunctions(
  analysis: ExpressionAnalysis,
  source: string,
  pointer: string,
  scope: ExpressionScope,
) {
  for (const [name, position] of analysis.calls) {
    if (JSONATA_FUNCTIONS.has(name)) continue;
    const hit = closest(name, JSONATA_FUNCTIONS);
    const where = position === undefined ? "" : ` at character ${Math.max(1, position - name.length)}`;
    scope.report(
      "unknown-function",
      `expression ${JSON.stringify(source)} calls $${name}${where}, which is not a JSONata function` +
        (hit === undefined ? " (docs.jsonata.org lists them)" : ` (did you mean $${hit}?)`),
      pointer,
      "value",
      "error",
      `$${name}(`,
    );
  }
}

function hasTemplate(value: unknown): boolean {
  if (typeof value === "string") return value.includes("{{");
  if (Array.isArray(value)) return value.some(hasTemplate);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasTemplate);
  return false;
}

/**
 * Every expression a document may hold, found without knowing its schema: the
 * parts of every `{{ }}` template and every string under an `expr` or
 * `response` key (bare JSONata). Over-collecting is harmless: this only feeds
 * ExpressionCache.prefetch, which batches the parsing.
 */
export function collectExpressionSources(value: unknown, out: string[] = [], key = ""): string[] {
  if (typeof value === "string") {
    if (key === "expr" || key === "response") out.push(value);
    const scanned = scanTemplate(value);
    if (scanned.kind === "expression") out.push(scanned.expression.source);
    else if (scanned.kind === "interpolation") {
      for (const part of scanned.parts) if (typeof part !== "string") out.push(part.source);
    }
  } else if (Array.isArray(value)) {
    for (const item of value) collectExpressionSources(item, out);
  } else if (value !== null && typeof value === "object") {
    for (const [childKey, child] of Object.entries(value)) collectExpressionSources(child, out, childKey);
  }
  return out;
}
