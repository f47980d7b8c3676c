import { isAlias, isMap, isScalar, isSeq, type Pair, type YAMLMap, type Node as YamlNode } from "yaml";
import type { SourceDocument } from "./yaml-source.ts";

/**
 * JSON Pointer → line and column in the YAML source. Lookups happen only for
 * findings, so the document is not indexed up front; large mappings (10,000
 * nodes) get a key index the first time one is searched.
 */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Where to point: at the key naming the location, or at its value. */
export type Target = "key" | "value";

const keyIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();
const INDEX_FROM = 16;

/**
 * Where `words` are written inside the value at `pointer` (the first time), so
 * a finding about a part of an expression points at that part; undefined if
 * the value's source does not hold them as written (an escape in a quoted
 * string, say), and the caller points at the value instead.
 */
export function locateWithin(source: SourceDocument, pointer: string, words: string): Position | undefined {
  const range = (nodeAt(source, pointer) as YamlNode | undefined)?.range;
  if (source.text === undefined || !range) return undefined;
  const at = source.text.slice(range[0], range[1]).indexOf(words);
  if (at < 0) return undefined;
  const { line, col } = source.lines.linePos(range[0] + at);
  return { line, column: col };
}

/** The YAML node at a pointer, or undefined where the pointer leaves the document. */
function nodeAt(source: SourceDocument, pointer: string): unknown {
  let node: unknown = source.doc.contents;
  const tokens = pointer === "" ? [] : pointer.slice(1).split("/").map(unescapeToken);
  for (const token of tokens) {
    if (isAlias(node)) node = node.resolve(source.doc);
    if (isMap(node)) node = findPair(node, token)?.value;
    else if (isSeq(node)) node = node.items[Number(token)];
    else return undefined;
  }
  return node;
}

export function locate(source: SourceDocument, pointer: string, target: Target = "value"): Position {
  const { doc, lines } = source;
  let node: unknown = doc.contents;
  let offset = doc.contents?.range?.[0] ?? doc.range[0];
  const tokens = pointer === "" ? [] : pointer.slice(1).split("/").map(unescapeToken);
  for (let i = 0; i < tokens.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const token = tokens[i] as string;
    const last = i === tokens.length - 1;
    if (isMap(node)) {
      const pair = findPair(node, token);
      if (pair === undefined) break;
      const keyOffset = (pair.key as YamlNode | null)?.range?.[0];
      const valueOffset = (pair.value as YamlNode | null)?.range?.[0];
      if (last && target === "key" && keyOffset !== undefined) {
        offset = keyOffset;
        break;
      }
      offset = valueOffset ?? keyOffset ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(token)] as YamlNode | undefined;
      if (item?.range == null) break;
      offset = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  // A key written twice holds its last value, so findings point at the last one.
  if (map.items.length < INDEX_FROM) return map.items.findLast((pair) => keyText(pair) === key);
  let index = keyIndexes.get(map);
  if (index === undefined) {
    index = new Map();
    for (const pair of map.items) {
      const text = keyText(pair);
      if (text !== undefined) index.set(text, pair);
    }
    keyIndexes.set(map, index);
  }
  return index.get(key);
}

function keyText(pair: Pair): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

function unescapeToken(token: string): string {
  return token.replaceAll("~1", "/").replaceAll("~0", "~");
}

export function pointerOf(...tokens: (string | number)[]): string {
  return tokens.map((t) => `/${String(t).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}
