import { countrySpecs, isValidIBAN } from "ibantools";
import type { PiiSpan } from "./span.ts";

/**
 * IBANs, printed ("PT50 0002 0123 1234 5678 9015 4") or electronic
 * ("DE89370400440532013000"), any case: a country code and two check digits,
 * then letters and digits, single spaces or dashes allowed between them. The
 * candidate is cut at the length the country's IBAN has, and kept only if
 * ibantools validates it: the country's format and the mod-97 checksum, which
 * a mistyped or made-up number fails 96 times in 97.
 */
const CANDIDATE = /(?<![\p{L}\p{N}])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){8,34}/giu;

export function findIbans(text: string): PiiSpan[] {
  const spans: PiiSpan[] = [];
  const candidates = new RegExp(CANDIDATE);
  for (let match = candidates.exec(text); match !== null; match = candidates.exec(text)) {
    const start = match.index;
    const end = ibanEnd(text, start, match[0]);
    if (end === undefined) {
      // Not an IBAN from here: the next may start inside this candidate ("… e DE89 3704 …").
      candidates.lastIndex = start + 1;
      continue;
    }
    spans.push({ kind: "iban", start, end });
    candidates.lastIndex = end;
  }
  return spans;
}

/** Where the IBAN starting `raw` ends in `text`, if it is one: cut at its country's length, then validated. */
function ibanEnd(text: string, start: number, raw: string): number | undefined {
  const length = countrySpecs[raw.slice(0, 2).toUpperCase()]?.chars;
  if (typeof length !== "number") return undefined;
  let taken = 0;
  let end = 0;
  while (end < raw.length && taken < length) {
    if (/[A-Za-z0-9]/.test(raw[end] as string)) taken++;
    end++;
  }
  if (taken < length || /[\p{L}\p{N}]/u.test(text[start + end] ?? "")) return undefined;
  return isValidIBAN(raw.slice(0, end).replace(/[ -]/g, "").toUpperCase()) ? start + end : undefined;
}
