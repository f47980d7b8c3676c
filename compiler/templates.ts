/**
 * Templates: strings with `{{ JSONata }}` inside. A template that is exactly one
 * `{{ e }}` (surrounding whitespace aside) takes the value of `e` with its JSON
 * type; otherwise each `{{ e }}` is replaced by its value in the string.
 *
 * Which `}}` closes an expression? With `parses` (a JSONata syntax check), the
 * first `}}` after which the expression parses: `{{ {"a": {"b": 1}} }}` closes at
 * the last pair, and regex literals holding quotes or braces cannot confuse it.
 * When no candidate parses (a real syntax error), or without `parses`, a scan
 * that follows JSONata's strings, backquoted names, comments and braces decides.
 */

export interface TemplateExpression {
  /** The JSONata source between the braces, trimmed. */
  readonly source: string;
  /** Offset of `{{` in the template string. */
  readonly offset: number;
}

export type TemplatePart = string | TemplateExpression;

export type ScannedTemplate =
  | { readonly kind: "literal" }
  | { readonly kind: "expression"; readonly expression: TemplateExpression }
  | { readonly kind: "interpolation"; readonly parts: readonly TemplatePart[] }
  | { readonly kind: "unclosed"; readonly offset: number };

export function scanTemplate(text: string, parses?: (source: string) => boolean): ScannedTemplate {
  let start = text.indexOf("{{");
  if (start < 0) return { kind: "literal" };
  const parts: TemplatePart[] = [];
  let literalFrom = 0;
  while (start >= 0) {
    const end = (parses && firstParsingClose(text, start + 2, parses)) ?? findClose(text, start + 2);
    if (end < 0) return { kind: "unclosed", offset: start };
    if (start > literalFrom) parts.push(text.slice(literalFrom, start));
    parts.push({ source: text.slice(start + 2, end).trim(), offset: start });
    literalFrom = end + 2;
    start = text.indexOf("{{", literalFrom);
  }
  if (literalFrom < text.length) parts.push(text.slice(literalFrom));
  const meaningful = parts.filter((part) => !isBlank(part));
  const only = meaningful.length === 1 ? meaningful[0] : undefined;
  if (only !== undefined && typeof only !== "string") return { kind: "expression", expression: only };
  return { kind: "interpolation", parts };
}

function isBlank(part: TemplatePart | undefined): boolean {
  return typeof part === "string" && part.trim() === "";
}

function firstParsingClose(
  text: string,
  from: number,
  parses: (source: string) => boolean,
): number | undefined {
  for (let end = text.indexOf("}}", from); end >= 0; end = text.indexOf("}}", end + 1)) {
    const source = text.slice(from, end).trim();
    if (source !== "" && parses(source)) return end;
  }
  return undefined;
}

/** Index of the `}}` that closes an expression starting at `from`, or -1. */
function findClose(text: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' || c === "'" || c === "`") {
      i = skipQuoted(text, i, c);
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      if (close < 0) return -1;
      i = close + 2;
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}") {
      if (depth === 0 && text[i + 1] === "}") return i;
      if (depth > 0) depth--;
    }
    i++;
  }
  return -1;
}

function skipQuoted(text: string, at: number, quote: string): number {
  let i = at + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && quote !== "`") i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return i;
}
