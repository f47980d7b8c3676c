import type { CountryCode } from "libphonenumber-js/max";
import { findCards } from "./card.ts";
import { findEmails } from "./email.ts";
import { findIbans } from "./iban.ts";
import { findPhoneNumbers } from "./phone.ts";
import { type PiiKind, type PiiSpan, withoutOverlaps } from "./span.ts";

/**
 * The personal data of the `kinds` asked for in `text`, as spans that do not
 * overlap, in text order. IBANs and card numbers are looked for even when not
 * asked for: their digits are not phone numbers. An e-mail address is looked
 * for only when asked: a phone number that is an address's local part
 * ("351912345678@sms…") is still a phone number to redact.
 */
export function findPii(text: string, kinds: readonly PiiKind[], regions: readonly CountryCode[]): PiiSpan[] {
  const spans: PiiSpan[] = [...findIbans(text), ...findCards(text)];
  if (kinds.includes("email")) spans.push(...findEmails(text));
  if (kinds.includes("phone")) spans.push(...findPhoneNumbers(text, regions));
  return withoutOverlaps(spans).filter((span) => kinds.includes(span.kind));
}
