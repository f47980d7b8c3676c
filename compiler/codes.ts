/**
 * The one table of validation codes. `pflow validate`, `POST /v1/validate` and the
 * docs all speak these; tests/docs-codes.test.ts fails if docs/language.md does not
 * document every code here with an example that triggers it.
 */
export const VALIDATION_CODES = {
  "yaml-syntax": "the YAML does not parse",
  "yaml-limits":
    "the file is too large, too deep, has too many nodes or aliases, or expands too far (YAML bombs end here, fast)",
  "duplicate-key": "a mapping repeats a key",
  "empty-file": "a definition file holds no documents",
  schema: "the document breaks the JSON Schema (unknown field, wrong type, bad name…)",
  "unquoted-expression": "{{ … }} written unquoted, so YAML read it as a mapping",
  "expression-syntax": "a JSONata expression does not parse",
  "unknown-reference": "an expression names something that is not in its context (input for inputs, say)",
  "relative-reference":
    "warning: inside a predicate or a later path step, nodes or inputs means a field of the current item",
  "dynamic-reference":
    "warning: an expression reads nodes without naming one, so its dependency cannot be derived",
  "unknown-function": "an expression calls a function JSONata does not have (and it does not define)",
  "unknown-input": "an expression reads an inputs field that the workflow's inputs schema does not declare",
  "unknown-output-field":
    "warning: an expression reads a field of a node's output that the node's outputSchema does not declare",
  "invalid-duration": "a duration is not of the form 250ms, 30s, 5m, 2h or 1d",
  "unknown-node": "needs or an expression names a node that does not exist",
  cycle: "the dependencies form a cycle (within a workflow, or across sub-workflows)",
  "unknown-model": "a model reference names no model, version or alias in the set",
  "retired-model": "a model reference (or an alias) resolves to a retired version",
  "deprecated-model": "warning: a model reference resolves to a deprecated version",
  "stream-ignored": "warning: a model node streams (stream: true) a call whose answer has no text to stream",
  "unknown-workflow": "a workflow node names no workflow in the set",
  "duplicate-name": "two documents of one kind share a name, or a model alias has a version's name",
  "unknown-op": "a preprocess op that does not exist",
  "op-arguments": "a preprocess op's with does not fit its schema",
  "wait-condition":
    "a wait node has none, or more than one, of signal, for and until; or a schema without a signal",
  "invalid-timestamp": "a wait node's until is neither an ISO 8601 timestamp with a zone nor a template",
  "cron-syntax":
    "a cron trigger's expression does not parse (5 fields, or 6 with seconds first) or never fires",
  "unknown-timezone": "a cron trigger's timezone is not an IANA time zone",
  "inline-secret": "a webhook secret is written in the definition instead of referenced as { env: NAME }",
  "duplicate-trigger": "two triggers of a workflow share a name, or two workflows declare one webhook name",
} as const;

export type ValidationCode = keyof typeof VALIDATION_CODES;

export type Severity = "error" | "warning";

/** One finding, pointing at the offending key or value (1-based line and column). */
export interface Diagnostic {
  readonly code: ValidationCode;
  readonly severity: Severity;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** JSON Pointer into the document ("" for the document itself). */
  readonly pointer: string;
  /** Index of the document within a multi-document file (0-based). */
  readonly document: number;
}
