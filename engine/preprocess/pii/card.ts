import { gluedAfter, gluedBefore, labelledReference } from "./context.ts";
import type { PiiSpan } from "./span.ts";

/**
 * Payment card numbers: 13 to 19 digits, unseparated or in groups of 3 to 6
 * joined by one kind of separator (space or dash: "4111 1111 1111 1111",
 * "3782-822463-10005"), passing the Luhn check and starting as an issuer's
 * numbers do (Visa 4, Mastercard 51-55 and 2221-2720, Amex 34 and 37,
 * Discover, Diners, JCB, UnionPay, Maestro, Mir: 2 to 6). The Luhn check alone
 * passes one random number in ten, so a number labelled as a reference
 * ("Invoice 5500 0000 …") is not taken for a card.
 */
const CANDIDATE = /\d(?:[ -]?\d){12,18}/g;
const MIN_DIGITS = 13;

export function findCards(text: string): PiiSpan[] {
  const spans: PiiSpan[] = [];
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    if (gluedBefore(text, start) || text[start - 1] === "+" || labelledReference(text, start)) continue;
    // Longest first, then shorter at group boundaries: a card may be followed by another number.
    const groups = match[0].split(/[ -]/);
    const separators = match[0].match(/[ -]/g) ?? [];
    for (let count = groups.length; count >= 1; count--) {
      const kept = groups.slice(0, count);
      const digits = kept.join("");
      if (digits.length < MIN_DIGITS) break;
      const raw = match[0].slice(0, digits.length + count - 1);
      const end = start + raw.length;
      if (gluedAfter(text, end)) continue;
      const grouped =
        count === 1 ||
        (new Set(separators.slice(0, count - 1)).size === 1 &&
          kept.every((g) => g.length >= 3 && g.length <= 6));
      if (grouped && issuerPrefix(digits) && luhn(digits)) {
        spans.push({ kind: "card", start, end });
        break;
      }
    }
  }
  return spans;
}

/** Whether `digits` start as some card issuer's numbers do, at a length that issuer uses. */
function issuerPrefix(digits: string): boolean {
  const n = digits.length;
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  if (digits[0] === "4") return n === 13 || n === 16 || n === 19; // Visa
  if (two >= 51 && two <= 55) return n === 16; // Mastercard
  if (four >= 2221 && four <= 2720) return n === 16; // Mastercard 2-series
  if (four >= 2200 && four <= 2204) return n >= 16; // Mir
  if (two === 34 || two === 37) return n === 15; // American Express
  if (two === 36 || two === 38 || two === 39 || (four >= 3000 && four <= 3059)) return n >= 14; // Diners
  if (four >= 3528 && four <= 3589) return n >= 16; // JCB
  if (two === 50 || (two >= 56 && two <= 69)) return n >= 13; // Maestro, Discover, UnionPay, RuPay
  return false;
}

/** The Luhn mod-10 check digit test. */
export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
