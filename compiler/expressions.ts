import jsonata from "jsonata";

/**
 * Compile-time analysis of one JSONata expression: does it parse, which context
 * names does it read at its root, and which nodes does it reference?
 *
 * References are found by walking the AST, tracking whether each sub-expression is
 * evaluated against the context root (the expression itself, function arguments,
 * operands, the first step of a path) or against something relative (later path
 * steps, predicates, sort terms, group-by). Only `nodes.<id>` read at the root (or
 * through `$$`) is a dependency: inside `items[id = nodes.x]` JSONata reads the
 * current item's `nodes` field, which is almost always a mistake worth a warning.
 */
export interface ExpressionAnalysis {
  /** Names read from the context root (`inputs`, `nodes`, `run`, `item`…). */
  readonly roots: ReadonlySet<string>;
  /** Node ids referenced as `nodes.<id>` from the root. */
  readonly nodes: ReadonlySet<string>;
  /** `nodes`/`inputs` read where JSONata resolves them against the current item. */
  readonly relative: ReadonlySet<string>;
  /** The expression reads `nodes` without naming a node (`nodes.*`, `$lookup(nodes, k)`). */
  readonly dynamicNodes: boolean;
  /** Fields read as `inputs.<field>` from the root. */
  readonly inputFields: ReadonlySet<string>;
  /** Fields read as `nodes.<id>.output.<field>` from the root, as `id\u0000field`. */
  readonly outputFields: ReadonlySet<string>;
  /**
   * Functions called by a name the expression does not bind itself (with `:=`
   * or as a lambda's parameter), by name, with the character where the name
   * ends (JSONata's position); builtins included: callers check against
   * JSONATA_FUNCTIONS.
   */
  readonly calls: ReadonlyMap<string, number | undefined>;
}

/**
 * JSONata's own functions (2.x): what `$name(…)` may call without defining
 * `$name` first. tests/compiler/expressions.test.ts checks each is a function
 * in the JSONata this project runs.
 */
export const JSONATA_FUNCTIONS: ReadonlySet<string> = new Set([
  "abs",
  "append",
  "assert",
  "average",
  "base64decode",
  "base64encode",
  "boolean",
  "ceil",
  "clone",
  "contains",
  "count",
  "decodeUrl",
  "decodeUrlComponent",
  "distinct",
  "each",
  "encodeUrl",
  "encodeUrlComponent",
  "error",
  "eval",
  "exists",
  "filter",
  "floor",
  "formatBase",
  "formatInteger",
  "formatNumber",
  "fromMillis",
  "join",
  "keys",
  "length",
  "lookup",
  "lowercase",
  "map",
  "match",
  "max",
  "merge",
  "millis",
  "min",
  "not",
  "now",
  "number",
  "pad",
  "parseInteger",
  "power",
  "random",
  "reduce",
  "replace",
  "reverse",
  "round",
  "shuffle",
  "sift",
  "single",
  "sort",
  "split",
  "spread",
  "sqrt",
  "string",
  "substring",
  "substringAfter",
  "substringBefore",
  "sum",
  "toMillis",
  "trim",
  "type",
  "uppercase",
  "zip",
]);

export type ParsedExpression =
  | { readonly ok: true; readonly analysis: ExpressionAnalysis }
  | { readonly ok: false; readonly message: string; readonly position: number | undefined };

interface Collector {
  roots: Set<string>;
  nodes: Set<string>;
  relative: Set<string>;
  dynamicNodes: boolean;
  inputFields: Set<string>;
  outputFields: Set<string>;
  calls: Map<string, number | undefined>;
  /** Variables the expression binds; removed from `calls` when the walk ends. */
  bound: Set<string>;
}

function collector(): Collector {
  return {
    roots: new Set(),
    nodes: new Set(),
    relative: new Set(),
    dynamicNodes: false,
    inputFields: new Set(),
    outputFields: new Set(),
    calls: new Map(),
    bound: new Set(),
  };
}

/** The analysis of a walked AST: calls of variables the expression binds are not calls of unknowns. */
function finish(out: Collector): ExpressionAnalysis {
  for (const name of out.bound) out.calls.delete(name);
  return out;
}

type Ctx = "root" | "relative";
type AstNode = { type?: string; value?: unknown; [key: string]: unknown };

/** Names a relative read of which is suspicious (they are context names, rarely item fields). */
const CONTEXT_NAMES_WORTH_WARNING = new Set(["nodes", "inputs"]);

export function parseExpression(source: string): ParsedExpression {
  const out = collector();
  const path = plainPath(source);
  if (path !== undefined) {
    readRoot(
      path[0] as string,
      path.slice(1).map((value) => ({ type: "name", value })),
      out,
    );
    return { ok: true, analysis: out };
  }
  let ast: AstNode;
  try {
    ast = jsonata(source).ast() as AstNode;
  } catch (error) {
    const { message, position } = error as { message?: string; position?: number };
    return { ok: false, message: message ?? String(error), position };
  }
  walk(ast, "root", out);
  return { ok: true, analysis: finish(out) };
}

/**
 * Most expressions are a plain dotted path (`inputs.tone`, `nodes.draft.output.text`),
 * whose JSONata AST is known without parsing: a path of name steps. Recognising
 * exactly that grammar skips JSONata's parser (about 50 µs a call, most of the
 * compile time of a large workflow); anything else, keywords included, is parsed.
 * tests/compiler/expressions.test.ts checks the shortcut against the parser.
 */
const PLAIN_PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const JSONATA_WORDS = new Set(["and", "or", "in", "true", "false", "null", "function"]);

export function plainPath(source: string): string[] | undefined {
  if (!PLAIN_PATH.test(source)) return undefined;
  const steps = source.split(".");
  return steps.some((step) => JSONATA_WORDS.has(step)) ? undefined : steps;
}

/** Memoises parseExpression for one validation run: large workflows repeat expressions. */
export class ExpressionCache {
  readonly #cache = new Map<string, ParsedExpression>();

  parse(source: string): ParsedExpression {
    let parsed = this.#cache.get(source);
    if (parsed === undefined) {
      parsed = parseExpression(source);
      this.#cache.set(source, parsed);
    }
    return parsed;
  }

  /**
   * Parses many expressions ahead of use, a batch per JSONata call. JSONata's
   * parser rebuilds its whole symbol table on every call (about 50 µs), which
   * dominates compiling a workflow of thousands of nodes; one call for a
   * batch pays that once. Expressions a batch cannot vouch for are left to
   * parse() one by one, so results are exactly those of parseExpression.
   */
  prefetch(sources: Iterable<string>): void {
    const pending = [...new Set(sources)].filter(
      (source) => source.trim() !== "" && !this.#cache.has(source) && plainPath(source) === undefined,
    );
    for (let i = 0; i < pending.length; i += BATCH_SIZE) {
      const batch = pending.slice(i, i + BATCH_SIZE);
      const asts = parseBatch(batch);
      if (asts === undefined) continue;
      // Where each expression starts in the batch's text "[(e1),(e2),…]": positions shift by it.
      let start = 2;
      batch.forEach((source, j) => {
        const out = collector();
        walk(asts[j], "root", out);
        for (const [name, position] of out.calls)
          out.calls.set(name, position === undefined ? undefined : position - start);
        this.#cache.set(source, { ok: true, analysis: finish(out) });
        start += source.length + 3;
      });
    }
  }
}

const BATCH_SIZE = 500;

/**
 * `[(e1), (e2), …]` parsed once. The result stands for each `ei` parsed alone
 * only if the array has exactly one block per expression, each starting where
 * its `(` was put and holding one expression: text that escapes its parentheses
 * (`1), (2`, an open string or comment) or is not a whole expression on its own
 * (`1; 2`) fails that check, and the batch is discarded. Expressions with the
 * parent operator `%`, whose meaning depends on what encloses them, are not
 * batched at all.
 */
export function parseBatch(sources: readonly string[]): AstNode[] | undefined {
  if (sources.some((source) => source.includes("%"))) return undefined;
  const starts: number[] = [];
  let text = "[";
  for (const source of sources) {
    if (starts.length > 0) text += ",";
    starts.push(text.length);
    text += `(${source})`;
  }
  text += "]";
  let ast: AstNode;
  try {
    ast = jsonata(text).ast() as AstNode;
  } catch {
    return undefined;
  }
  const elements = ast.type === "unary" && ast.value === "[" ? (ast.expressions as AstNode[]) : [];
  if (elements.length !== sources.length) return undefined;
  const expressions: AstNode[] = [];
  for (const [i, element] of elements.entries()) {
    const inner = element.expressions as AstNode[] | undefined;
    // JSONata positions are 1-based ends of tokens: "(" at offset k has position k + 1.
    if (element.type !== "block" || element.position !== (starts[i] as number) + 1 || inner?.length !== 1) {
      return undefined;
    }
    expressions.push(inner[0] as AstNode);
  }
  return expressions;
}

function walk(node: unknown, ctx: Ctx, out: Collector): void {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const child of node) walk(child, ctx, out);
    return;
  }
  const n = node as AstNode;
  collectBindings(n, out);
  switch (n.type) {
    case "path":
      walkPath(n.steps as AstNode[], ctx, out);
      break;
    case "name":
      if (ctx === "root") readRoot(n.value as string, [], out);
      break;
    case "variable":
      // `$$` (or `$` at the root) alone hands over the whole context, nodes included.
      if (n.value === "$" || (n.value === "" && ctx === "root")) out.dynamicNodes = true;
      break;
    case "transform":
      // `| pattern | update |` is a function applied to some object: all relative.
      walk(n.pattern, "relative", out);
      walk(n.update, "relative", out);
      walk(n.delete, "relative", out);
      break;
    case "sort":
      for (const term of (n.terms as { expression: unknown }[]) ?? []) walk(term.expression, "relative", out);
      break;
    case "unary":
      if (n.value === "{") walkPairs(n.lhs, ctx, out);
      else walk(n.value === "[" ? n.expressions : n.expression, ctx, out);
      break;
    default:
      // Operands, function arguments and bodies, conditions and blocks are
      // evaluated against the same context as the node itself (JSONata binds a
      // lambda's body to the context where it was defined).
      for (const key of [
        "lhs",
        "rhs",
        "expressions",
        "arguments",
        "procedure",
        "body",
        "condition",
        "then",
        "else",
      ]) {
        walk(n[key], ctx, out);
      }
  }
  walkDecorations(n, out);
}

/** Function calls by name, and the names the expression binds (`$f := …`, lambda parameters, `@$x`, `#$i`). */
function collectBindings(n: AstNode, out: Collector): void {
  if (n.type === "function" || n.type === "partial") {
    const procedure = n.procedure as AstNode | undefined;
    if (procedure?.type === "variable" && typeof procedure.value === "string" && procedure.value !== "") {
      if (!out.calls.has(procedure.value)) out.calls.set(procedure.value, procedure.position as number);
    }
  } else if (n.type === "bind") {
    const lhs = n.lhs as AstNode | undefined;
    if (lhs?.type === "variable") out.bound.add(lhs.value as string);
  } else if (n.type === "lambda") {
    for (const parameter of (n.arguments as AstNode[] | undefined) ?? [])
      out.bound.add(parameter.value as string);
  }
  if (typeof n.focus === "string") out.bound.add(n.focus);
  if (typeof n.index === "string") out.bound.add(n.index);
}

/** Predicates, filters and group-by are evaluated per item: relative. */
function walkDecorations(n: AstNode, out: Collector): void {
  for (const key of ["predicate", "stages"]) {
    for (const stage of (n[key] as AstNode[] | undefined) ?? []) walk(stage.expr, "relative", out);
  }
  const group = n.group as { lhsObject?: unknown } | undefined;
  if (group) walkPairs(group.lhsObject, "relative", out);
}

function walkPairs(pairs: unknown, ctx: Ctx, out: Collector): void {
  for (const pair of (pairs as unknown[][] | undefined) ?? []) {
    walk(pair[0], ctx, out);
    walk(pair[1], ctx, out);
  }
}

function walkPath(steps: AstNode[], ctx: Ctx, out: Collector): void {
  const first = steps[0];
  if (first === undefined) return;
  // `$$.x` is anchored at the root wherever it appears; `$.x` only where `$` is the root.
  const anchored =
    first.type === "variable" && (first.value === "$" || (first.value === "" && ctx === "root"));
  const headIndex = anchored ? 1 : 0;
  const head = steps[headIndex];
  if (head?.type === "name") {
    const name = head.value as string;
    const next = steps[headIndex + 1];
    if (anchored || ctx === "root") readRoot(name, steps.slice(headIndex + 1), out);
    else if (CONTEXT_NAMES_WORTH_WARNING.has(name) && next !== undefined) out.relative.add(name);
  } else if (anchored && head === undefined) {
    out.dynamicNodes = true;
  }
  steps.forEach((step, i) => {
    if (i === 0 && anchored) walkDecorations(step, out);
    else if (i === 0 && step.type !== "name") walk(step, ctx, out);
    else if (i > 0 && step.type !== "name") walk(step, "relative", out);
    else walkDecorations(step, out);
  });
}

/** `name` read at the root, followed by the path's later steps (`rest`). */
function readRoot(name: string, rest: readonly AstNode[], out: Collector): void {
  out.roots.add(name);
  const field = (i: number) => (rest[i]?.type === "name" ? (rest[i]?.value as string) : undefined);
  if (name === "inputs") {
    const input = field(0);
    if (input !== undefined) out.inputFields.add(input);
    return;
  }
  if (name !== "nodes") return;
  const node = field(0);
  if (node === undefined) {
    out.dynamicNodes = true;
    return;
  }
  out.nodes.add(node);
  const output = field(2);
  if (field(1) === "output" && output !== undefined) out.outputFields.add(`${node}\u0000${output}`);
}
