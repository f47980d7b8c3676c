import type { PiiSpan } from "./span.ts";

/**
 * A practical e-mail address: a local part of letters, digits and . _ % + -,
 * then a domain of dot-separated labels (no leading or trailing hyphen) ending
 * in a top-level domain of two or more letters. Letters include non-ASCII ones
 * (internationalized addresses). Not glued to a preceding address character.
 */
const EMAIL =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]+@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*\.\p{L}{2,}(?![\p{L}\p{N}-])/gu;

export function findEmails(text: string): PiiSpan[] {
  return Array.from(text.matchAll(EMAIL), (match) => ({
    kind: "email",
    start: match.index,
    end: match.index + match[0].length,
  }));
}
