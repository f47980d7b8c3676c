import {
  Composer,
  type CST,
  type Document,
  isCollection,
  isMap,
  isScalar,
  Lexer,
  LineCounter,
  Parser,
  Scalar,
  visit,
  type YAMLMap,
  type Node as YamlNode,
} from "yaml";
import type { Diagnostic, ValidationCode } from "./codes.ts";
import { indentationHint } from "./indentation.ts";
import { type Expansion, measureExpansion, SelfReferencingAlias } from "./yaml-expansion.ts";

/**
 * YAML files to documents, keeping every source position.
 *
 * Limits are checked while the file is lexed (size before anything, nesting depth
 * on the parser's stack as it grows, aliases and nodes as they appear), and what
 * the aliases would expand to is measured before anything is expanded, so a YAML
 * bomb is refused before it is ever built: a megabyte of `[[[[…` or of aliases
 * ends in milliseconds with `yaml-limits`, and a file of a million keys stops
 * being read at the node limit instead of being composed whole.
 */
export interface YamlLimits {
  /** Largest file accepted, in bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of collections accepted. */
  readonly maxDepth: number;
  /** Most alias nodes (`*name`) in one file. */
  readonly maxAliases: number;
  /** Most documents in one file. */
  readonly maxDocuments: number;
  /** Most nodes (scalars, keys included, and collections) written in one file. */
  readonly maxNodes: number;
  /** Most nodes one document may hold once its aliases are expanded. */
  readonly maxExpandedNodes: number;
  /** Most characters of scalars one document may hold once its aliases are expanded. */
  readonly maxExpandedBytes: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = {
  maxBytes: 8 * 1024 * 1024,
  maxDepth: 64,
  maxAliases: 100,
  maxDocuments: 1000,
  // A 50,000-node workflow is about 400,000 nodes of YAML.
  maxNodes: 500_000,
  maxExpandedNodes: 1_000_000,
  maxExpandedBytes: 16 * 1024 * 1024,
};

/** One YAML document of a file, its plain value, and what locates positions in it. */
export interface SourceDocument {
  readonly file: string;
  readonly index: number;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  /** The whole file's text (shared by its documents), for pointing inside a value. */
  readonly text?: string;
  /** The document as plain JSON-like data; undefined if it did not parse. */
  readonly value: unknown;
}

export interface ParsedFile {
  readonly file: string;
  readonly documents: readonly SourceDocument[];
  readonly diagnostics: readonly Diagnostic[];
}

export function parseYamlFile(
  file: string,
  text: string,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): ParsedFile {
  const lines = new LineCounter();
  lines.addNewLine(0);
  const at = (code: ValidationCode, message: string, offset: number, index = 0): Diagnostic => {
    const { line, col } = lines.linePos(offset);
    return { code, severity: "error", message, file, line, column: col, pointer: "", document: index };
  };

  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > limits.maxBytes) {
    const message = `the file is ${formatBytes(bytes)}; the limit is ${formatBytes(limits.maxBytes)}`;
    return { file, documents: [], diagnostics: [at("yaml-limits", message, 0)] };
  }

  // Duplicate keys are found in one pass later: yaml's own check is quadratic
  // in the size of a mapping, and a 50,000-node workflow is one mapping.
  const composer = new Composer({
    uniqueKeys: false,
    prettyErrors: false,
    logLevel: "silent",
    version: "1.2",
  });
  const diagnostics: Diagnostic[] = [];
  const documents: SourceDocument[] = [];
  let index = 0;
  try {
    // Tokens stream from the lexer into the composer, a document at a time.
    for (const doc of composer.compose(tokensWithinLimits(text, lines, limits), true)) {
      const docIndex = index++;
      if (docIndex >= limits.maxDocuments) {
        throw new LimitExceeded(`the file has more than ${limits.maxDocuments} documents`, doc.range[0]);
      }
      const value = readDocument(doc, text, limits, (code, message, offset, severity = "error") => {
        diagnostics.push({ ...at(code, message, offset, docIndex), severity });
      });
      if (value !== EMPTY) documents.push({ file, index: docIndex, doc, lines, text, value });
    }
  } catch (error) {
    if (!(error instanceof LimitExceeded)) throw error;
    return {
      file,
      documents: [],
      diagnostics: [at("yaml-limits", error.message, error.offset, Math.max(0, index - 1))],
    };
  }
  if (documents.length === 0 && diagnostics.length === 0) {
    diagnostics.push(at("empty-file", "the file holds no YAML documents", 0));
  }
  return { file, documents, diagnostics };
}

const EMPTY = Symbol("empty document");

type Report = (code: ValidationCode, message: string, offset: number, severity?: "error" | "warning") => void;

/** One composed document → its plain value (undefined if it did not parse), or EMPTY. */
function readDocument(doc: Document.Parsed, text: string, limits: YamlLimits, report: Report): unknown {
  // The first syntax error is the one to fix; those after it are mostly its echoes.
  const [error] = doc.errors;
  let fatal = false;
  if (error !== undefined) {
    fatal = true;
    const hint = indentationHint(error.code, error.pos[0], text);
    if (hint) report("yaml-syntax", `${firstLine(error.message)}: ${hint.message}`, hint.offset);
    else report("yaml-syntax", syntaxMessage(error, text), error.pos[0]);
  } else if (doc.directives.yaml.explicit && doc.directives.yaml.version !== "1.2") {
    // A %YAML 1.1 directive would bring back yes/no booleans and merge keys.
    fatal = true;
    report(
      "yaml-syntax",
      `pflow definitions are YAML 1.2: remove the %YAML ${doc.directives.yaml.version} directive`,
      doc.range[0],
    );
  }
  for (const warning of doc.warnings)
    report("yaml-syntax", firstLine(warning.message), warning.pos[0], "warning");
  if (isEmptyDocument(doc)) return EMPTY; // e.g. after a trailing ---
  if (fatal) return undefined;
  const overLimit = expansionOverLimit(doc, limits);
  if (overLimit !== undefined) {
    report("yaml-limits", overLimit.message, overLimit.offset);
    return undefined;
  }
  for (const finding of inspectMappings(doc, text)) report(finding.code, finding.message, finding.offset);
  try {
    return doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    report("yaml-limits", `aliases expand too far (${firstLine(error.message)})`, doc.range[0]);
    return undefined;
  }
}

class LimitExceeded extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** What a document's aliases would expand it to, if past a limit: the finding to report. */
function expansionOverLimit(
  doc: Document.Parsed,
  limits: YamlLimits,
): { message: string; offset: number } | undefined {
  let size: Expansion;
  try {
    size = measureExpansion(doc);
  } catch (error) {
    if (!(error instanceof SelfReferencingAlias)) throw error;
    return { message: error.message, offset: error.offset };
  }
  const offset = doc.range[0];
  if (size.nodes > limits.maxExpandedNodes) {
    const message = `the document expands to ${size.nodes.toLocaleString("en-US")} nodes with its aliases; the limit is ${limits.maxExpandedNodes.toLocaleString("en-US")}`;
    return { message, offset };
  }
  if (size.bytes > limits.maxExpandedBytes) {
    const message = `the document expands to ${formatBytes(size.bytes)} with its aliases; the limit is ${formatBytes(limits.maxExpandedBytes)}`;
    return { message, offset };
  }
  return undefined;
}

/** The first character of a lexeme that starts a node: a scalar's marker, a quote, a flow collection, a sequence item. */
const NODE_STARTS: ReadonlySet<number> = new Set([0x1f, 0x22, 0x27, 0x5b, 0x7b]);

function* tokensWithinLimits(text: string, lines: LineCounter, limits: YamlLimits): Generator<CST.Token> {
  const parser = new Parser(lines.addNewLine);
  let aliases = 0;
  let nodes = 0;
  for (const lexeme of new Lexer().lex(text)) {
    const first = lexeme.charCodeAt(0);
    if (first === 42 /* '*' */ && ++aliases > limits.maxAliases) {
      throw new LimitExceeded(`the file uses more than ${limits.maxAliases} aliases`, parser.offset);
    }
    if ((NODE_STARTS.has(first) || lexeme === "-") && ++nodes > limits.maxNodes) {
      throw new LimitExceeded(
        `the file holds more than ${limits.maxNodes.toLocaleString("en-US")} nodes (keys, values and items)`,
        parser.offset,
      );
    }
    yield* parser.next(lexeme);
    // Each open collection is one entry on the parser's stack (plus the document).
    if (parser.stack.length > limits.maxDepth + 1) {
      throw new LimitExceeded(`the file nests deeper than ${limits.maxDepth} levels`, parser.offset);
    }
  }
  yield* parser.end();
}

interface KeyFinding {
  readonly code: ValidationCode;
  readonly message: string;
  readonly offset: number;
}

/**
 * One pass over every mapping:
 * - `when: {{ x }}` unquoted is YAML for a mapping whose only key is the mapping
 *   `{ x }`. Say "quote the expression", and put the quoted string back so the
 *   rest of validation sees what the author meant instead of a cascade.
 * - Any other collection used as a key has no JSON meaning: a schema error.
 * - A key written twice is an error (the last one is what the document holds).
 */
function inspectMappings(doc: Document.Parsed, text: string): KeyFinding[] {
  const findings: KeyFinding[] = [];
  visit(doc, {
    Map(_key, map) {
      const shape = unquotedExpressionShape(map);
      if (shape !== undefined) {
        const [start, end] = map.range ?? [0, 0];
        const source = text.slice(start, end).trim();
        findings.push({
          code: "unquoted-expression",
          message: `quote the expression: YAML reads an unquoted ${source} as a mapping; write "${source.replaceAll('"', '\\"')}"`,
          offset: start,
        });
        return new Scalar(source);
      }
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (!seen.has(key)) {
          seen.add(key);
          continue;
        }
        findings.push({
          code: "duplicate-key",
          message: `the key "${key}" appears more than once in this mapping`,
          offset: pair.key.range?.[0] ?? 0,
        });
      }
      const plain = map.items.filter((pair) => !isCollection(pair.key));
      if (plain.length === map.items.length) return undefined;
      for (const pair of map.items) {
        if (!isCollection(pair.key)) continue;
        findings.push({
          code: "schema",
          message: "a mapping key must be a plain string, not a collection",
          offset: (pair.key as YamlNode).range?.[0] ?? 0,
        });
      }
      map.items = plain;
      return undefined;
    },
  });
  return findings;
}

function isEmptyDocument(doc: Document.Parsed): boolean {
  if (doc.errors.length > 0) return false;
  const contents = doc.contents;
  return contents === null || (isScalar(contents) && contents.value === null && contents.source === "");
}

/** A flow map `{ { … } }`: one pair, its key a flow map, no value. */
function unquotedExpressionShape(map: YAMLMap): true | undefined {
  if (!map.flow || map.items.length !== 1) return undefined;
  const pair = map.items[0];
  if (pair === undefined || !isMap(pair.key) || !pair.key.flow) return undefined;
  if (pair.value !== null && !(isScalar(pair.value) && pair.value.value === null)) return undefined;
  return true;
}

function syntaxMessage(error: { message: string; pos: [number, number] }, text: string): string {
  const message = firstLine(error.message);
  const lineStart = text.lastIndexOf("\n", error.pos[0] - 1) + 1;
  const lineEnd = text.indexOf("\n", error.pos[0]);
  const sourceLine = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  return /:\s*\{\{/.test(sourceLine) ? `${message} (an expression must be quoted: "{{ … }}")` : message;
}

function firstLine(message: string): string {
  return message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "") ?? message;
}

function formatBytes(bytes: number): string {
  const exact = `${bytes.toLocaleString("en-US")} bytes`;
  return bytes % (1024 * 1024) === 0 ? `${exact} (${bytes / (1024 * 1024)} MiB)` : exact;
}
