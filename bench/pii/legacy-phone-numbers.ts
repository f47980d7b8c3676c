/**
 * Finding phone numbers in free text, for redact_pii. It is a heuristic, tuned
 * to redact real numbers while leaving alone the numbers a property listing is
 * full of: dates, times, years, prices, postcodes, reference numbers.
 *
 * A candidate is a run of digit groups joined by single separators (space, dot,
 * dash) or parenthesized groups ("(555)", "(0)"), optionally led by "+". It must
 * not be glued to a letter or digit on either side, nor continue a larger
 * number or code ("10:30", "1,250,000", "3/4", "AB-123-456"), nor sit next to a
 * currency.
 *
 * - International (leading "+"): 7 to 15 digits (E.164), separators optional.
 * - National: 7 to 15 digits in at least two groups, and not one of:
 *   a date (2025-03-01, 01.03.2025), an IPv4 address, years (2019-2025),
 *   thousands (1 250 000, 12.500.000), or a two-group number that is not
 *   phone-shaped: two groups are accepted only as 3+4 digits ("555-1234"), with
 *   a parenthesized area code, or led by a trunk "0" with 8 or more digits
 *   ("06 12345678") and not a ZIP+4 ("02134-1234"). So postcodes such as
 *   1200-195 and 75008 and unseparated IDs are not numbers to redact.
 */
export interface Span {
  readonly start: number;
  readonly end: number;
}

const CANDIDATE =
  /(?<![\p{L}\p{N}_+])(?<![\p{L}\p{N}][-./])(?<!\p{N}[ :,])\+?\(?\d+(?:(?:[-. ]|\) ?|[-. ]?\()\d+)*\)?/gu;
/** A group, a separator or the leading "+", matched one at a time from where the last ended. */
const TOKEN = /\(\d{1,5}\)|\d+|[-. ]|\+/y;
const DATE = /(?<!\d)(?:\d{4}([-.])\d{1,2}\1\d{1,2}|\d{1,2}([-.])\d{1,2}\2\d{4})(?!\d)/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const CURRENCY = String.raw`(?:[$€£¥₹]|\b(?:EUR|USD|GBP|CHF|JPY|CNY|BRL|AUD|CAD|SEK|NOK|DKK|PLN|CZK|HUF|AED|ZAR|INR)\b)`;
const CURRENCY_BEFORE = new RegExp(`${CURRENCY}\\s?$`);
const CURRENCY_AFTER = new RegExp(`^\\s?${CURRENCY}`);

export function findPhoneNumbers(text: string): Span[] {
  const spans: Span[] = [];
  for (const match of text.matchAll(CANDIDATE)) {
    let start = match.index;
    let candidate = match[0];
    // A trailing ")" belongs to the number only if it closes a "(" inside it.
    if (candidate.endsWith(")") && !/\(\d{1,5}\)$/.test(candidate)) candidate = candidate.slice(0, -1);
    // A leading "(" that is not an area code is the sentence's, not the number's.
    if (candidate.startsWith("(") && !/^\(\d{1,5}\)/.test(candidate)) {
      candidate = candidate.slice(1);
      start++;
    }
    const end = start + candidate.length;
    if (continuesAfter(text, end) || nearCurrency(text, start, end)) continue;
    if (isPhoneNumber(candidate)) spans.push({ start, end });
  }
  return spans;
}

/** Glued to a word, or the start of a time, fraction or decimal ("10:30", "1/2", "2,50"). */
function continuesAfter(text: string, end: number): boolean {
  const rest = text.slice(end, end + 2);
  return /^[\p{L}\p{N}_]/u.test(rest) || /^[:,/.-]\d/.test(rest);
}

/** "EUR 250 000 000", "250 000 000 €": an amount, however phone-like its digits. */
function nearCurrency(text: string, start: number, end: number): boolean {
  return (
    CURRENCY_BEFORE.test(text.slice(Math.max(0, start - 4), start)) ||
    CURRENCY_AFTER.test(text.slice(end, end + 4))
  );
}

interface Group {
  readonly digits: string;
  readonly parenthesized: boolean;
}

function isPhoneNumber(candidate: string): boolean {
  const parsed = parse(candidate);
  if (parsed === undefined) return false;
  const { groups, separators, international } = parsed;
  const digits = groups.reduce((n, g) => n + g.digits.length, 0);
  if (digits < 7 || digits > 15) return false;
  if (international) return true;
  if (groups.length < 2) return false;
  if (DATE.test(candidate) || IPV4.test(candidate)) return false;
  if (groups.every((g) => /^(?:19|20)\d\d$/.test(g.digits))) return false;
  if (looksLikeThousands(groups, separators)) return false;
  if (groups.length === 2) return twoGroupPhone(groups, separators);
  return true;
}

function parse(
  candidate: string,
): { groups: Group[]; separators: string[]; international: boolean } | undefined {
  const groups: Group[] = [];
  const separators: string[] = [];
  let international = false;
  let previous: "start" | "group" | "separator" = "start";
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < candidate.length) {
    const token = TOKEN.exec(candidate)?.[0];
    if (token === undefined) return undefined;
    if (token === "+") {
      if (previous !== "start") return undefined;
      international = true;
    } else if (/^[-. ]$/.test(token)) {
      if (previous !== "group") return undefined;
      separators.push(token);
      previous = "separator";
    } else {
      const parenthesized = token.startsWith("(");
      groups.push({ digits: parenthesized ? token.slice(1, -1) : token, parenthesized });
      previous = "group";
    }
  }
  return previous === "group" ? { groups, separators, international } : undefined;
}

/** "1 250 000", "12.500.000": a short lead group, then groups of three, one separator. */
function looksLikeThousands(groups: readonly Group[], separators: readonly string[]): boolean {
  const [lead, ...rest] = groups;
  if (lead === undefined || lead.parenthesized || lead.digits.length > 2) return false;
  const separator = separators[0];
  return (
    (separator === " " || separator === ".") &&
    separators.every((s) => s === separator) &&
    separators.length === rest.length &&
    rest.every((g) => !g.parenthesized && g.digits.length === 3)
  );
}

function twoGroupPhone(groups: readonly Group[], separators: readonly string[]): boolean {
  const [first, second] = groups as [Group, Group];
  if (first.parenthesized || second.parenthesized) return true;
  if (first.digits.length === 3 && second.digits.length === 4) return true;
  const zipPlusFour = first.digits.length === 5 && second.digits.length === 4 && separators[0] === "-";
  return first.digits.startsWith("0") && first.digits.length + second.digits.length >= 8 && !zipPlusFour;
}
