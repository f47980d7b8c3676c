import type { Diagnostic } from "./codes.ts";
import type { FileReport } from "./validate.ts";

/**
 * A validation report as JSON: the shape of `pflow validate --format json` and
 * of POST /v1/validate (interfaces spec), one entry per file.
 */
export function validationJson(files: readonly FileReport[], skipped: readonly string[] = []) {
  const finding = (d: Diagnostic) => ({
    line: d.line,
    column: d.column,
    code: d.code,
    message: d.message,
    pointer: d.pointer,
    document: d.document,
  });
  return {
    valid: files.every((file) => file.valid),
    files: files.map((file) => ({
      path: file.path,
      valid: file.valid,
      documents: file.documents,
      errors: file.errors.map(finding),
      warnings: file.warnings.map(finding),
    })),
    ...(skipped.length > 0 ? { skipped } : {}),
  };
}
