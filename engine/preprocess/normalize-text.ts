import { htmlToText } from "./html-text.ts";
import type { PreprocessOp } from "./op.ts";

/**
 * normalize_text: `{ text }`.
 *
 * Order matters:
 * 1. NFKC first, so compatibility forms ("ﬁ", full-width letters and digits,
 *    non-breaking spaces) are plain before anything looks at them.
 * 2. If stripHtml: the markup parsed as HTML and its text taken (tags gone,
 *    entities decoded; see html-text.ts), then NFKC again, because a decoded
 *    entity ("&#xFB01;", "&nbsp;") can bring a compatibility character back and
 *    the output is promised to be NFKC.
 * 3. Lowercase (locale-independent), if asked.
 * 4. Whitespace runs (any Unicode white space) collapsed to one space, trimmed.
 */
export const normalizeText: PreprocessOp = {
  name: "normalize_text",
  run(args) {
    let text = (args.text as string).normalize("NFKC");
    if (args.stripHtml === true) text = htmlToText(text).normalize("NFKC");
    if (args.lowercase === true) text = text.toLowerCase();
    return { text: text.replace(/\s+/gu, " ").trim() };
  },
};
