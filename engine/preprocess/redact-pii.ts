import type { PreprocessOp } from "./op.ts";
import { findPhoneNumbers } from "./phone-numbers.ts";

/**
 * redact_pii: `{ text, redactions }`, e-mail addresses replaced by `[EMAIL]` and
 * phone numbers by `[PHONE]` (of the `kinds` asked for), `redactions` counting
 * both. E-mails go first, so digits in an address ("5551234567@example.com")
 * are not taken for a phone number and the address is redacted whole.
 */
export const redactPii: PreprocessOp = {
  name: "redact_pii",
  run(args) {
    const kinds = args.kinds as readonly string[];
    let text = args.text as string;
    let redactions = 0;
    if (kinds.includes("email")) {
      text = text.replace(EMAIL, () => {
        redactions++;
        return "[EMAIL]";
      });
    }
    if (kinds.includes("phone")) {
      const spans = findPhoneNumbers(text);
      redactions += spans.length;
      // From the end, so the offsets of the spans not yet replaced stay right.
      for (const { start, end } of spans.reverse()) text = `${text.slice(0, start)}[PHONE]${text.slice(end)}`;
    }
    return { text, redactions };
  },
};

/**
 * A practical e-mail address: a local part of letters, digits and . _ % + -,
 * then a domain of dot-separated labels (no leading or trailing hyphen) ending
 * in a top-level domain of two or more letters. Letters include non-ASCII ones
 * (internationalized addresses). Not glued to a preceding address character.
 */
const EMAIL =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]+@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*\.\p{L}{2,}(?![\p{L}\p{N}-])/gu;
