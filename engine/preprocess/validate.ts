import type { AnySchema } from "ajv/dist/2020.js";
import { ExecutionError } from "../errors.ts";
import type { PreprocessOp } from "./op.ts";
import { compileUserSchema } from "./user-schemas.ts";
import { describeViolations } from "./violations.ts";

/**
 * validate: `data` itself when it fits `schema`; otherwise a non-retryable
 * `validation` failure listing every violation (all of them, not the first), so
 * one failed run tells the author everything to fix.
 */
export const validate: PreprocessOp = {
  name: "validate",
  run(args) {
    const check = compileUserSchema(args.schema as AnySchema);
    if (check(args.data)) return args.data;
    const violations = describeViolations(check.errors ?? []);
    const count = violations.length === 1 ? "1 violation" : `${violations.length} violations`;
    throw ExecutionError.nonRetryable(
      "validation",
      `validate: data does not fit the schema (${count}): ${violations.join("; ")}`,
    );
  },
};
