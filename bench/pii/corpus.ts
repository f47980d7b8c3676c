import { readFileSync } from "node:fs";
import type { PiiKind } from "../../engine/preprocess/pii/span.ts";

/**
 * The labelled corpus (corpus.tsv): one text a line, `id<TAB>language<TAB>style<TAB>text`,
 * `#` lines are comments. In the text, `[[kind:…]]` marks personal data redact_pii
 * must redact (email, phone, iban, card) and `{{kind:…}}` a number it must leave
 * (price, area, postcode, date, time, reference, year, id). `read` strips the marks
 * and gives each marked span's offsets in the plain text.
 */
export interface LabelledSpan<K extends string> {
  readonly kind: K;
  readonly start: number;
  readonly end: number;
}

export interface LabelledText {
  readonly id: string;
  readonly language: string;
  readonly style: string;
  readonly text: string;
  readonly pii: readonly LabelledSpan<PiiKind>[];
  readonly other: readonly LabelledSpan<string>[];
}

const MARK = /\[\[(email|phone|iban|card):([^\]]+)\]\]|\{\{(\w+):([^}]+)\}\}/g;

export function parseLine(line: string): LabelledText {
  const [id, language, style, marked, ...rest] = line.split("\t");
  if (
    id === undefined ||
    language === undefined ||
    style === undefined ||
    marked === undefined ||
    rest.length > 0
  ) {
    throw new Error(`corpus line is not id, language, style, text: ${JSON.stringify(line.slice(0, 80))}`);
  }
  const pii: LabelledSpan<PiiKind>[] = [];
  const other: LabelledSpan<string>[] = [];
  let text = "";
  let at = 0;
  for (const match of marked.matchAll(MARK)) {
    text += marked.slice(at, match.index);
    const value = (match[2] ?? match[4]) as string;
    const span = { start: text.length, end: text.length + value.length };
    if (match[1] !== undefined) pii.push({ kind: match[1] as PiiKind, ...span });
    else other.push({ kind: match[3] as string, ...span });
    text += value;
    at = match.index + match[0].length;
  }
  text += marked.slice(at);
  return { id, language, style, text, pii, other };
}

export function readCorpus(path: URL): LabelledText[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map(parseLine);
}
