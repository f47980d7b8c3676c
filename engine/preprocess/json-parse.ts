import { ExecutionError } from "../errors.ts";
import type { PreprocessOp } from "./op.ts";

/**
 * json_parse: the parsed value. Models often wrap JSON in a Markdown code fence,
 * so one fence around the whole text is taken off first: three or more
 * backticks, an optional info string ("json") on the opening line, and a
 * closing run of the same backticks. Only white space may surround the fence:
 * prose before or after it ("Here is the JSON: ...") is not guessed around, and
 * fails as malformed JSON. A fence on one line ("```{"a":1}```") has no info
 * string.
 */
export const jsonParse: PreprocessOp = {
  name: "json_parse",
  run(args) {
    const text = args.text as string;
    try {
      return JSON.parse(unfence(text));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw ExecutionError.nonRetryable(
        "json-parse",
        `json_parse: the text is not JSON: ${reason}; it begins: ${preview(text)}`,
        { cause: error },
      );
    }
  },
};

const BLOCK_FENCE = /^\s*(`{3,})[^`\n]*\n([\s\S]*?)\1\s*$/;
const INLINE_FENCE = /^\s*(`{3,})([^\n]*?)\1\s*$/;

function unfence(text: string): string {
  const fenced = BLOCK_FENCE.exec(text) ?? INLINE_FENCE.exec(text);
  return fenced?.[2] ?? text;
}

/** The first 80 characters (code points, so no half surrogate pair). */
function preview(text: string): string {
  const chars = Array.from(text);
  return chars.length <= 80 ? text : `${chars.slice(0, 80).join("")}…`;
}
