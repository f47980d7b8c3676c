import { type SourceFile, type ValidateOptions, validateDefinitions } from "../compiler/index.ts";

/**
 * The body of a validation thread (see definition-validator.ts): definitions
 * are parsed and compiled here, off the event loop that answers requests. What
 * it returns reaches the server by structured clone: plans and models are plain
 * data, so nothing is lost.
 */
export default function validate(task: { files: readonly SourceFile[]; options: ValidateOptions }) {
  return validateDefinitions(task.files, task.options);
}
