import { distance } from "fastest-levenshtein";

/**
 * The candidate closest to `word`, if it is a plausible typo: none for words of
 * one or two characters, one edit for three, else two or a third of the length (a swap of two
 * letters is two edits), the same word in another case, or an abbreviation
 * (`prod` for `production`, at least three characters).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = word.length <= 2 ? 0 : word.length === 3 ? 1 : Math.max(2, Math.floor(word.length / 3));
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const other = candidate.toLowerCase();
    let score = other === lower ? 0 : distance(word, candidate);
    if (score > limit && lower.length >= 3 && (other.startsWith(lower) || lower.startsWith(other)))
      score = limit;
    if (score < bestScore) {
      bestScore = score;
      best = candidate;
    }
  }
  return bestScore <= limit ? best : undefined;
}

/** ` (did you mean "x"?)` or "". */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const hit = closest(word, candidates);
  return hit === undefined ? "" : ` (did you mean "${hit}"?)`;
}
