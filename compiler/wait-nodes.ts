import type { NodeFields } from "./documents.ts";
import { durationMs } from "./duration.ts";
import type { JsonValue, WaitNodeBody } from "./plan.ts";
import type { FindingSink } from "./schema-findings.ts";
import { compileValue, type ExpressionScope } from "./value-templates.ts";

/**
 * A wait node waits on exactly one thing: a signal, a duration, or a time.
 * What the JSON Schema cannot say (one of three, a schema only with a signal,
 * a literal `until` that is a real timestamp) is checked here, at the key.
 */
const CONDITIONS = ["signal", "for", "until"] as const;

export function compileWait(
  node: NodeFields,
  pointer: string,
  scope: ExpressionScope,
  report: FindingSink,
): WaitNodeBody {
  const given = CONDITIONS.filter((key) => node[key] !== undefined);
  if (given.length === 0) {
    report(
      "wait-condition",
      "a wait node needs one of signal (a name), for (a duration) or until (a timestamp)",
      `${pointer}/type`,
    );
  } else if (given.length > 1) {
    report(
      "wait-condition",
      `a wait node waits on exactly one of signal, for or until, not ${given.join(" and ")}`,
      `${pointer}/${given[1]}`,
      "key",
    );
  }
  if (node.schema !== undefined && node.signal === undefined) {
    report(
      "wait-condition",
      "schema checks a signal's data: it needs signal (a for or until wait receives no data)",
      `${pointer}/schema`,
      "key",
    );
  }
  let until = null;
  if (node.until !== undefined) {
    until = compileValue(node.until, `${pointer}/until`, scope);
    if (until.t === "literal" && !isTimestamp(node.until)) {
      report(
        "invalid-timestamp",
        `until must be an ISO 8601 timestamp with a time zone (2026-05-01T09:00:00Z) or a template giving one, not ${JSON.stringify(node.until)}`,
        `${pointer}/until`,
      );
    }
  }
  return {
    type: "wait",
    signal: node.signal ?? null,
    schema: (node.schema ?? null) as JsonValue | null,
    forMs: node.for === undefined ? null : durationMs(node.for),
    until,
  };
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 date and time with a zone (a time without one would depend on the server's). */
export function isTimestamp(value: unknown): value is string {
  return typeof value === "string" && ISO_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value));
}
