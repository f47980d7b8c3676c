import { findEmails } from "../../engine/preprocess/pii/email.ts";
import type { PiiSpan } from "../../engine/preprocess/pii/span.ts";
import { findPhoneNumbers } from "./legacy-phone-numbers.ts";

/**
 * What redact_pii found before issue 16, for bench/pii's comparison only: the
 * same e-mail pattern, then the hand-written phone heuristic
 * (legacy-phone-numbers.ts, moved here unchanged from
 * engine/preprocess/phone-numbers.ts) run on the text with the addresses
 * already replaced, as the op did. It had no IBAN or card kind.
 */
export function findLegacyPii(text: string): PiiSpan[] {
  const emails = findEmails(text);
  // The op replaced addresses with "[EMAIL]" before looking for phones; a mask
  // of the same length keeps the offsets and, like "]", is no digit or letter.
  let masked = text;
  for (const { start, end } of emails)
    masked = masked.slice(0, start) + "#".repeat(end - start) + masked.slice(end);
  const phones = findPhoneNumbers(masked).map(({ start, end }): PiiSpan => ({ kind: "phone", start, end }));
  return [...emails, ...phones].sort((a, b) => a.start - b.start);
}
