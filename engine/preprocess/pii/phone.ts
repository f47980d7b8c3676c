import { type CountryCode, Metadata, parsePhoneNumberFromString } from "libphonenumber-js/max";
import { containsDate, gluedAfter, gluedBefore, labelledReference, nearCurrency } from "./context.ts";
import type { PiiSpan } from "./span.ts";

/**
 * Phone numbers, validated by libphonenumber-js with its `max` metadata (the
 * number ranges each country has allocated, not just lengths).
 *
 * Finding the candidates is ours, validating them is libphonenumber's. Its own
 * matcher (findPhoneNumbersInText) was tried and not kept: it reads a run of
 * numbers joined by spaces as one candidate and loses every number in it, its
 * match can run on past the number (", 0044", into a following postcode), and
 * scanning a text once per region made it the slowest part of a run.
 *
 * 1. Windows: runs of digit groups joined by spaces, dots, dashes, slashes or
 *    parentheses, optionally led by "+" or "(+", with 7 digits or more.
 * 2. In a window, runs of groups (7 to 17 digits) that libphonenumber finds
 *    valid: written internationally ("+351 …", "0044 …", whatever the
 *    regions), or as a national number of one of the regions. A run may start
 *    or end inside a window only at a space, so "2024-05-01" or "AB-123-456"
 *    is never cut into a phone-shaped piece. Where runs compete, the cut of
 *    the window that covers the most digits wins (see bestSplit).
 * 3. Guards, because validity alone is not enough (with DE, "645 000" and
 *    "2024-05-01" are valid; with FR, "100234567"):
 *    - a national number of a country whose trunk prefix is 0 (FR, DE, GB…)
 *      must be written with it: nobody writes a French number without its 0;
 *    - not glued to a word or a code, nor continued as a time, decimal or code;
 *    - nothing next to a currency, no calendar date inside, not a ZIP+4 code;
 *    - not labelled as a reference ("Ref.", "NIF", "Encomenda nº", …).
 */
// A dot before white space ends a sentence, not a group: "Baujahr 2024. 845.000 €".
const WINDOW = /(?:\(?\+\s?)?\(?\d(?:[\d \u00a0\-/()]|\.(?!\s))*\d\)?/g;
/** A window's tokens: an international prefix "+351" or "(+351)", a group "(21)", or digits. */
const TOKEN = /\(?\+\s?\d{1,3}\)?|\(\d{1,5}\)|\d+/g;
const MIN_DIGITS = 7;
/** A US ZIP+4 code ("02134-1234"), though German numbers can be written so too. */
const ZIP_PLUS_FOUR = /^\d{5}-\d{4}$/;
const MAX_DIGITS = 17;

interface Token {
  readonly start: number;
  readonly end: number;
  readonly digits: number;
  readonly international: boolean;
}

/** The national trunk prefix of each region, "" when it has none (PT, ES, IT) or it is optional (US's 1). */
const trunkPrefixes = new Map<CountryCode, string>();
function trunkPrefix(region: CountryCode): string {
  let prefix = trunkPrefixes.get(region);
  if (prefix === undefined) {
    const metadata = new Metadata();
    metadata.selectNumberingPlan(region);
    const value = (metadata.numberingPlan as { nationalPrefix(): unknown } | undefined)?.nationalPrefix();
    prefix = value === "0" ? "0" : "";
    trunkPrefixes.set(region, prefix);
  }
  return prefix;
}

export function findPhoneNumbers(text: string, regions: readonly CountryCode[]): PiiSpan[] {
  const spans: PiiSpan[] = [];
  // Within one text the same candidate is often tried again (a long run of groups): decided once.
  const decided = new Map<string, boolean>();
  const isValid = (candidate: string, region: CountryCode | undefined): boolean => {
    const key = `${region ?? "+"}${candidate}`;
    let valid = decided.get(key);
    if (valid === undefined) {
      const options = region === undefined ? {} : { defaultCountry: region };
      valid = parsePhoneNumberFromString(candidate, options)?.isValid() ?? false;
      decided.set(key, valid);
    }
    return valid;
  };
  for (const window of text.matchAll(WINDOW)) {
    const tokens = tokensOf(window[0], window.index);
    if (tokens.reduce((n, t) => n + t.digits, 0) < MIN_DIGITS) continue;
    for (const [first, last] of bestSplit(text, tokens, regions, isValid)) {
      spans.push({ kind: "phone", start: (tokens[first] as Token).start, end: (tokens[last] as Token).end });
    }
  }
  return spans;
}

function tokensOf(window: string, offset: number): Token[] {
  return Array.from(window.matchAll(TOKEN), (match) => ({
    start: offset + match.index,
    end: offset + match.index + match[0].length,
    digits: match[0].replace(/\D/g, "").length,
    international: match[0].includes("+"),
  }));
}

/**
 * The runs of tokens (first and last index) to take as phone numbers. They run
 * on from the window's start, one after the other, and may leave tokens over
 * at its end only: digits before a number in the same run of digits make it
 * part of something else ("SIRET 041 057 466 02189", "Steuer-ID 31 824 002
 * 090"). Of the ways to cut the window so, the one covering the most digits
 * wins, then the one with fewer numbers: "06 12 34 56 78 07700 900123" is two
 * numbers, not a 15-digit German one and a leftover.
 */
function bestSplit(
  text: string,
  tokens: readonly Token[],
  regions: readonly CountryCode[],
  isValid: (candidate: string, region: CountryCode | undefined) => boolean,
): [number, number][] {
  const n = tokens.length;
  // best[i]: the best cut of tokens i…n-1: digits covered, numbers used, and the run taken at i (if any).
  const best: { covered: number; count: number; runEnd: number }[] = Array.from({ length: n + 1 }, () => ({
    covered: 0,
    count: 0,
    runEnd: -1,
  }));
  for (let i = n - 1; i >= 0; i--) {
    let choice = { covered: 0, count: 0, runEnd: -1 };
    if (canStart(text, tokens, i)) {
      let digits = 0;
      for (let j = i; j < n; j++) {
        digits += (tokens[j] as Token).digits;
        if (digits > MAX_DIGITS) break;
        if (digits < MIN_DIGITS || !isPhoneRun(text, tokens, i, j, regions, isValid)) continue;
        const rest = best[j + 1] as (typeof best)[number];
        const covered = digits + rest.covered;
        const count = 1 + rest.count;
        if (covered > choice.covered || (covered === choice.covered && count < choice.count)) {
          choice = { covered, count, runEnd: j };
        }
      }
    }
    best[i] = choice;
  }
  const runs: [number, number][] = [];
  for (let i = 0; i < n; ) {
    const { runEnd } = best[i] as (typeof best)[number];
    if (runEnd < 0) break;
    runs.push([i, runEnd]);
    i = runEnd + 1;
  }
  return runs;
}

/** A number starts at a window's first token, or after a space: "12-345" is not cut after its dash. */
function canStart(text: string, tokens: readonly Token[], i: number): boolean {
  const start = (tokens[i] as Token).start;
  if (i > 0 && !/\s/u.test(text[start - 1] ?? "")) return false;
  return !gluedBefore(text, start) && !labelledReference(text, start);
}

function isPhoneRun(
  text: string,
  tokens: readonly Token[],
  first: number,
  last: number,
  regions: readonly CountryCode[],
  isValid: (candidate: string, region: CountryCode | undefined) => boolean,
): boolean {
  const start = (tokens[first] as Token).start;
  const stop = (tokens[last] as Token).end;
  if (last < tokens.length - 1 && !/\s/u.test(text[stop] ?? "")) return false;
  if (gluedAfter(text, stop) || nearCurrency(text, start, stop)) return false;
  const raw = text.slice(start, stop);
  if (containsDate(raw) || ZIP_PLUS_FOUR.test(raw)) return false;
  return validPhone(raw, (tokens[first] as Token).international, regions, isValid);
}

function validPhone(
  raw: string,
  international: boolean,
  regions: readonly CountryCode[],
  isValid: (candidate: string, region: CountryCode | undefined) => boolean,
): boolean {
  const candidate = raw.replace(/^\(\+\s?(\d+)\)/, "+$1").replace(/^\+\s/, "+");
  if (international) return isValid(candidate, undefined);
  const bare = candidate.replace(/^\(/, "");
  if (bare.startsWith("00")) return isValid(`+${bare.slice(2)}`, undefined);
  return regions.some((region) => {
    const prefix = trunkPrefix(region);
    return (prefix === "" || bare.startsWith(prefix)) && isValid(candidate, region);
  });
}
