import { ExecutionError } from "../errors.ts";
import type { PreprocessOp } from "./op.ts";

/**
 * chunk_text: `{ chunks: [string] }`, for feeding long text to a model piece by
 * piece. Lengths are in Unicode code points, so a surrogate pair (an emoji, a
 * rare CJK character) is never cut in half.
 *
 * Every chunk is at most `size` long, and each chunk after the first starts with
 * exactly the last `overlap` characters of the one before: chunk 0 followed by
 * every later chunk minus its first `overlap` characters is the text again.
 *
 * Where a chunk ends: at `size` characters, unless a word boundary (a position
 * with white space on either side) lies in the last 20% of that window, in which
 * case the chunk ends at the last such boundary, so words are not cut when it
 * costs little room. With no boundary there the chunk is cut at `size` exactly.
 * A boundary is only taken if the chunk stays longer than `overlap`, so the next
 * chunk always starts further on and the loop always ends.
 */
export const chunkText: PreprocessOp = {
  name: "chunk_text",
  run(args) {
    const size = args.size as number;
    const overlap = args.overlap as number;
    if (overlap >= size) {
      throw ExecutionError.nonRetryable(
        "op-arguments",
        `chunk_text: overlap (${overlap}) must be smaller than size (${size}): each chunk repeats overlap characters of the one before and must add at least one new one`,
      );
    }
    return { chunks: chunk(Array.from(args.text as string), size, overlap) };
  },
};

/** The share of a window, at its end, searched for a word boundary. */
const BOUNDARY_SEARCH = 0.2;

function chunk(chars: readonly string[], size: number, overlap: number): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (start < chars.length) {
    const end = chunkEnd(chars, start, size, overlap);
    chunks.push(chars.slice(start, end).join(""));
    if (end === chars.length) break;
    start = end - overlap;
  }
  return chunks;
}

/** Where the chunk starting at `start` ends (exclusive). */
function chunkEnd(chars: readonly string[], start: number, size: number, overlap: number): number {
  const hardEnd = start + size;
  if (hardEnd >= chars.length) return chars.length;
  const earliest = Math.max(hardEnd - Math.floor(size * BOUNDARY_SEARCH), start + overlap + 1);
  for (let end = hardEnd; end >= earliest; end--) {
    if (isSpace(chars[end - 1]) || isSpace(chars[end])) return end;
  }
  return hardEnd;
}

function isSpace(char: string | undefined): boolean {
  return char !== undefined && /^\s$/u.test(char);
}
