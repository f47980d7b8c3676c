import type { ErrorObject } from "ajv";
import type { Diagnostic, ValidationCode } from "./codes.ts";
import { locate, locateWithin, pointerOf, type Target } from "./positions.ts";
import type { Kind, SchemaSet } from "./schemas.ts";
import { didYouMean } from "./suggest.ts";
import type { SourceDocument } from "./yaml-source.ts";

/**
 * ajv errors → findings a person can act on: each at the offending key or value,
 * worded in terms of the YAML ("unknown field", "must be one of"), with "did you
 * mean" for misspelt field names and enum values.
 */
export type FindingSink = (
  code: ValidationCode,
  message: string,
  pointer: string,
  target?: Target,
  severity?: "error" | "warning",
  /** Words inside the value to point at (a misspelt function in an expression), where they are found. */
  within?: string,
) => void;

export function sinkFor(source: SourceDocument, out: Diagnostic[]): FindingSink {
  return (code, message, pointer, target = "value", severity = "error", within) => {
    const { line, column } =
      (within === undefined ? undefined : locateWithin(source, pointer, within)) ??
      locate(source, pointer, target);
    out.push({ code, severity, message, file: source.file, line, column, pointer, document: source.index });
  };
}

const DURATION_DEF = "/$defs/duration";

/** A numeric bound in words: `"percent" must be at most 100, not 150`. */
const RANGE_WORDS: Readonly<Record<string, string>> = {
  minimum: "at least",
  maximum: "at most",
  exclusiveMinimum: "more than",
  exclusiveMaximum: "less than",
};

export function reportSchemaErrors(
  errors: readonly ErrorObject[],
  kind: Kind | undefined,
  schemas: SchemaSet,
  report: FindingSink,
  root: unknown,
): void {
  const seen = new Set<string>();
  for (const error of errors) {
    const finding = describe(error, kind, schemas, root);
    if (finding === undefined) continue;
    const key = `${finding.pointer}\u0000${finding.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    report(finding.code, finding.message, finding.pointer, finding.target);
  }
}

interface Finding {
  code: ValidationCode;
  message: string;
  pointer: string;
  target: Target;
}

function describe(
  error: ErrorObject,
  kind: Kind | undefined,
  schemas: SchemaSet,
  root: unknown,
): Finding | undefined {
  const pointer = error.instancePath;
  const label = labelOf(pointer, root);
  const params = error.params as Record<string, unknown>;
  const description = (error.parentSchema as { description?: string } | undefined)?.description;
  // A failed `if` only says "must match then"; the errors inside `then` say why.
  // A failed propertyNames is explained by the error about the name itself.
  if (error.keyword === "if" || error.keyword === "propertyNames") return undefined;
  if (error.propertyName !== undefined) {
    const what = description ? `: ${lowerFirst(description)}` : "";
    return {
      code: "schema",
      message: `"${error.propertyName}" is not a valid ${nameKind(pointer)}${what}`,
      pointer: pointer + pointerOf(error.propertyName),
      target: "key",
    };
  }
  if (error.schemaPath.includes(DURATION_DEF)) {
    const shown = JSON.stringify(error.data);
    return {
      code: "invalid-duration",
      message: `${label} ${shown} is not a duration: write a whole number and a unit, as in 250ms, 30s, 5m, 2h or 1d`,
      pointer,
      target: "value",
    };
  }
  switch (error.keyword) {
    case "unevaluatedProperties":
    case "additionalProperties": {
      const field = String(params.unevaluatedProperty ?? params.additionalProperty);
      const known = knownProperties(error.parentSchema, kind, schemas);
      const where = label === "document" ? "" : ` in ${label}`;
      return {
        code: "schema",
        message: `unknown field "${field}"${where}${didYouMean(field, known)}`,
        pointer: pointer + pointerOf(field),
        target: "key",
      };
    }
    case "required":
      return {
        code: "schema",
        message: `${label === "document" ? "the document" : label} is missing the required field "${String(params.missingProperty)}"`,
        pointer,
        target: "key",
      };
    case "uniqueItems": {
      const repeated = (error.data as unknown[])[Number(params.j)];
      return {
        code: "schema",
        message: `${label} lists ${JSON.stringify(repeated)} more than once`,
        pointer,
        target: "value",
      };
    }
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      const hint =
        typeof error.data === "string" ? didYouMean(error.data, params.allowedValues as string[]) : "";
      return {
        code: "schema",
        message: `${label} ${JSON.stringify(error.data)} is not one of ${allowed.join(", ")}${hint}`,
        pointer,
        target: "value",
      };
    }
    case "const":
      return {
        code: "schema",
        message: `${label} must be ${JSON.stringify(params.allowedValue)}, not ${JSON.stringify(error.data)}`,
        pointer,
        target: "value",
      };
    case "type":
      return {
        code: "schema",
        message: `${label} must be ${article(String(params.type))}, not ${typeName(error.data)}`,
        pointer,
        target: "value",
      };
    case "pattern": {
      const why = description ? `: ${lowerFirst(description)}` : ` (expected ${String(params.pattern)})`;
      return {
        code: "schema",
        message: `${label} ${JSON.stringify(error.data)} is not valid${why}`,
        pointer,
        target: "value",
      };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum": {
      const why = description ? ` (${lowerFirst(description)})` : "";
      return {
        code: "schema",
        message: `${label} must be ${RANGE_WORDS[error.keyword]} ${String(params.limit)}, not ${JSON.stringify(error.data)}${why}`,
        pointer,
        target: "value",
      };
    }
    default:
      return {
        code: "schema",
        message: `${label} ${error.message ?? "is invalid"}`,
        pointer,
        target: "value",
      };
  }
}

/** Every property name a schema location accepts, following allOf and $ref. */
function knownProperties(
  schema: unknown,
  kind: Kind | undefined,
  schemas: SchemaSet,
  seen = new Set<unknown>(),
): string[] {
  if (schema === null || typeof schema !== "object" || seen.has(schema)) return [];
  seen.add(schema);
  const s = schema as { properties?: object; allOf?: unknown[]; $ref?: string };
  const names = Object.keys(s.properties ?? {});
  for (const part of s.allOf ?? []) names.push(...knownProperties(part, kind, schemas, seen));
  if (s.$ref && kind) names.push(...knownProperties(schemas.resolve(kind, s.$ref), kind, schemas, seen));
  return names;
}

/** `/spec/nodes/draft/retry/delay` → `"delay"`; `/spec/nodes/x/needs/0` → `needs[0]`. */
function labelOf(pointer: string, root: unknown): string {
  if (pointer === "") return "document";
  const tokens = pointer
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
  const last = tokens[tokens.length - 1] as string;
  const parent = tokens
    .slice(0, -1)
    .reduce<unknown>((value, token) => (value as Record<string, unknown>)?.[token], root);
  if (Array.isArray(parent) && tokens.length > 1) return `${tokens[tokens.length - 2]}[${last}]`;
  return `"${last}"`;
}

/** What the keys of the mapping at `pointer` name, for "is not a valid …". */
function nameKind(pointer: string): string {
  if (/^\/spec\/nodes$/.test(pointer)) return "node id";
  if (/^\/spec\/versions$/.test(pointer)) return "version";
  if (/^\/spec\/aliases$/.test(pointer)) return "alias name";
  if (/\/labels$/.test(pointer)) return "label";
  return "name";
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1).replace(/\.$/, "");
}

function article(types: string): string {
  return types
    .split(",")
    .map((t) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`))
    .join(" or ");
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}
