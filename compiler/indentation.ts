/**
 * Says which column a misindented key should start at. The yaml library
 * reports two messages for it, neither saying where the key should be:
 * - BAD_INDENT ("All mapping items must start at the same column"), at the
 *   start of the offending line: the key sits between two indentation levels;
 * - BLOCK_AS_IMPLICIT_KEY ("Nested mappings are not allowed in compact
 *   mappings"), at the value of the line above: the key is indented deeper
 *   than a sibling that already has a value on its line.
 * The answer moves the finding to the key itself and names the columns of the
 * mappings that enclose it (1-based, as findings are).
 */
export interface IndentationHint {
  readonly message: string;
  /** Where the misindented key starts, in the text. */
  readonly offset: number;
}

export function indentationHint(code: string, offset: number, text: string): IndentationHint | undefined {
  const lines = text.split("\n");
  const starts: number[] = [];
  let position = 0;
  for (const line of lines) {
    starts.push(position);
    position += line.length + 1;
  }
  const lineAt = (at: number) => {
    let index = starts.length - 1;
    while (index > 0 && (starts[index] as number) > at) index--;
    return index;
  };
  const errorLine = lineAt(offset);
  const keyLine = code === "BAD_INDENT" ? errorLine : nextContentLine(lines, errorLine);
  if (code !== "BAD_INDENT" && code !== "BLOCK_AS_IMPLICIT_KEY") return undefined;
  if (keyLine === undefined) return undefined;
  const line = lines[keyLine] as string;
  const key = /^(\s*)([^\s:#-][^:#]*?)\s*:(?:\s|$)/.exec(line);
  if (!key) return undefined;
  const column = (key[1] as string).length + 1;
  const levels = enclosingColumns(lines, keyLine, column);
  if (levels.length === 0) return undefined;
  const [nearest, ...outer] = levels;
  const others = outer.length === 0 ? "" : ` (or column ${list(outer)}, for an enclosing mapping)`;
  return {
    message: `key "${key[2]}" is at column ${column}, expected column ${nearest} like the keys above it${others}`,
    offset: (starts[keyLine] as number) + column - 1,
  };
}

function nextContentLine(lines: readonly string[], after: number): number | undefined {
  for (let i = after + 1; i < lines.length; i++) if (isContent(lines[i] as string)) return i;
  return undefined;
}

function isContent(line: string): boolean {
  const trimmed = line.trim();
  return trimmed !== "" && !trimmed.startsWith("#");
}

/**
 * The start columns of the block mappings open above `keyLine`, nearest first:
 * walking up, each content line less indented than every line seen so far
 * opens a level. Levels equal to the key's own column are not a fix.
 */
function enclosingColumns(lines: readonly string[], keyLine: number, column: number): number[] {
  const levels: number[] = [];
  let bound = Number.POSITIVE_INFINITY;
  for (let i = keyLine - 1; i >= 0 && bound > 1; i--) {
    const line = lines[i] as string;
    if (!isContent(line) || line.startsWith("---")) {
      if (line.startsWith("---")) break;
      continue;
    }
    const indent = (/^\s*(?:- )?/.exec(line)?.[0].length ?? 0) + 1;
    if (indent < bound) {
      bound = indent;
      if (indent !== column) levels.push(indent);
    }
  }
  return levels;
}

/** 5 · 5 or 3 · 5, 3 or 1 */
function list(columns: readonly number[]): string {
  if (columns.length < 2) return columns.join("");
  return `${columns.slice(0, -1).join(", ")} or ${columns.at(-1)}`;
}
