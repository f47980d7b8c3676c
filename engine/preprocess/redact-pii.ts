import type { PreprocessOp } from "./op.ts";
import { findPii } from "./pii/find.ts";
import { regionsOf } from "./pii/regions.ts";
import { PII_KINDS, type PiiKind } from "./pii/span.ts";

/**
 * redact_pii: `{ text, redactions }`. Each piece of personal data of the
 * `kinds` asked for is replaced by its token ([EMAIL], [IBAN], [CARD],
 * [PHONE]); `redactions` counts them per kind asked for, plus `total`. Phone
 * numbers are read in the national formats of `regions` (see pii/regions.ts)
 * and in international form whatever the regions. What is found, and what is
 * deliberately not, is in pii/*.ts; its accuracy is measured by bench/pii.
 */
const TOKENS: Readonly<Record<PiiKind, string>> = {
  email: "[EMAIL]",
  iban: "[IBAN]",
  card: "[CARD]",
  phone: "[PHONE]",
};

export const redactPii: PreprocessOp = {
  name: "redact_pii",
  run(args) {
    const text = args.text as string;
    const kinds = PII_KINDS.filter((kind) => (args.kinds as readonly string[]).includes(kind));
    const spans = findPii(text, kinds, regionsOf(args.regions));
    const redactions: Record<string, number> = Object.fromEntries(kinds.map((kind) => [kind, 0]));
    const parts: string[] = [];
    let at = 0;
    for (const span of spans) {
      parts.push(text.slice(at, span.start), TOKENS[span.kind]);
      redactions[span.kind] = (redactions[span.kind] ?? 0) + 1;
      at = span.end;
    }
    parts.push(text.slice(at));
    return { text: parts.join(""), redactions: { ...redactions, total: spans.length } };
  },
};
