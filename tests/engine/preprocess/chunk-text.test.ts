import { describe, expect, it } from "vitest";
import { runOp } from "./run-op.ts";

const chunk = async (text: string, size: number, overlap?: number) =>
  (
    (await runOp("chunk_text", overlap === undefined ? { text, size } : { text, size, overlap })) as {
      chunks: string[];
    }
  ).chunks;

const points = (s: string) => Array.from(s);

/**
 * What must hold for every text, size and overlap: chunks at most `size` code
 * points, well-formed (no half surrogate pair), each longer than `overlap` when
 * there are several (so the next one moved on), each after the first starting with exactly the last
 * `overlap` code points of the one before, and chunk 0 plus every later chunk
 * minus its first `overlap` code points giving the text back.
 */
function expectChunking(text: string, size: number, overlap: number, chunks: readonly string[]): void {
  if (text === "") {
    expect(chunks).toEqual([]);
    return;
  }
  let rebuilt = "";
  chunks.forEach((current, i) => {
    const cps = points(current);
    expect(cps.length).toBeLessThanOrEqual(size);
    if (chunks.length > 1) expect(cps.length).toBeGreaterThan(overlap);
    expect(current.isWellFormed()).toBe(true);
    if (i === 0) {
      rebuilt = current;
      return;
    }
    const previous = points(chunks[i - 1] ?? "");
    expect(cps.slice(0, overlap)).toEqual(previous.slice(previous.length - overlap));
    rebuilt += cps.slice(overlap).join("");
  });
  expect(rebuilt).toBe(text);
}

/** A deterministic generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ["a", "b", "c", "é", " ", " ", "\n", "😀", "𝔸", "\t", "x", "y"];

function randomText(next: () => number, length: number): string {
  return Array.from({ length }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join("");
}

describe("chunk_text: the general properties", () => {
  it("hold for every size up to 25, every overlap below it, on many texts", async () => {
    const next = random(42);
    const texts = [
      "",
      "a",
      "no-white-space-at-all-in-this-rather-long-string",
      "words of several lengths, some of them quite long, separated by single spaces",
      "😀".repeat(40),
      "  leading and trailing white space  ",
      ...Array.from({ length: 12 }, (_, i) => randomText(next, 10 + i * 9)),
    ];
    let cases = 0;
    for (const text of texts) {
      for (let size = 1; size <= 25; size++) {
        for (let overlap = 0; overlap < size; overlap++) {
          expectChunking(text, size, overlap, await chunk(text, size, overlap));
          cases++;
        }
      }
    }
    expect(cases).toBe(texts.length * ((25 * 26) / 2));
    // A fixed amount of work (5,200 cases), not a timing: room for a busy machine.
  }, 60_000);

  it("hold for large sizes and overlaps on long random texts", async () => {
    const next = random(7);
    for (let round = 0; round < 40; round++) {
      const text = randomText(next, 200 + Math.floor(next() * 2000));
      const size = 1 + Math.floor(next() * 300);
      const overlap = Math.floor(next() * size);
      expectChunking(text, size, overlap, await chunk(text, size, overlap));
    }
  });
});

describe("chunk_text: where chunks end", () => {
  it("cuts text without white space at exactly size code points", async () => {
    expect(await chunk("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
    expect(await chunk("abcdefghij", 4, 1)).toEqual(["abcd", "defg", "ghij"]);
    expect(await chunk("abcdefghij", 4, 3)).toEqual(["abcd", "bcde", "cdef", "defg", "efgh", "fghi", "ghij"]);
  });

  it("gives every chunk but the last exactly size code points when there is no white space", async () => {
    const text = "x".repeat(103);
    for (const [size, overlap] of [
      [10, 0],
      [10, 4],
      [7, 6],
      [50, 25],
    ] as const) {
      const chunks = await chunk(text, size, overlap);
      for (const c of chunks.slice(0, -1)) expect(c.length).toBe(size);
      expectChunking(text, size, overlap, chunks);
    }
  });

  it("ends a chunk at a word boundary in the last 20% of the window", async () => {
    // Window "abcdefgh i" (10): the boundary after the space, at 9, is in the last 2.
    expect(await chunk("abcdefgh ijklmnop", 10)).toEqual(["abcdefgh ", "ijklmnop"]);
    // A boundary right at the window's end (a space follows it) is taken as is.
    expect(await chunk("abcdefghij klm", 10)).toEqual(["abcdefghij", " klm"]);
  });

  it("cuts hard when the only boundary is further back than 20% of the window", async () => {
    expect(await chunk("abcd efghijklmnop", 10)).toEqual(["abcd efghi", "jklmnop"]);
  });

  it("keeps the overlap exact when a chunk ends at a word boundary", async () => {
    expect(await chunk("abcdefgh ijklmnop", 10, 3)).toEqual(["abcdefgh ", "gh ijklmno", "mnop"]);
  });

  it("never takes a boundary that would leave the next chunk no further on", async () => {
    // size 10, overlap 9: a chunk must be 10 long to move on, so the space at 9 is passed over.
    const chunks = await chunk("abcdefgh ijklmnop", 10, 9);
    expect(chunks[0]).toBe("abcdefgh i");
    expectChunking("abcdefgh ijklmnop", 10, 9, chunks);
  });

  it("does not look for a boundary in the last chunk", async () => {
    expect(await chunk("abc def", 10)).toEqual(["abc def"]);
  });

  it("chunks prose of short words at word boundaries only", async () => {
    // No word is longer than 3 letters, so every window's last 20% (4 places) holds a boundary.
    const text = "The cat sat on the mat and the dog ran to the big red hut by the old oak as the sun set";
    const chunks = await chunk(text, 20);
    expectChunking(text, 20, 0, chunks);
    let end = 0;
    for (const c of chunks.slice(0, -1)) {
      end += c.length;
      expect(c.length).toBeGreaterThanOrEqual(16);
      expect(/\s/.test(text[end - 1] ?? "") || /\s/.test(text[end] ?? "")).toBe(true);
    }
  });
});

describe("chunk_text: characters are code points", () => {
  it("never splits a surrogate pair", async () => {
    expect(await chunk("😀😁😂😃😄", 2)).toEqual(["😀😁", "😂😃", "😄"]);
    expect(await chunk("a😀b😁c", 2, 1)).toEqual(["a😀", "😀b", "b😁", "😁c"]);
  });

  it("counts an astral character as one", async () => {
    expect(await chunk("𝔸𝔹ℂ", 3)).toEqual(["𝔸𝔹ℂ"]);
  });
});

describe("chunk_text: arguments", () => {
  it("gives no chunks for empty text", async () => {
    expect(await chunk("", 5)).toEqual([]);
    expect(await chunk("", 5, 2)).toEqual([]);
  });

  it("gives the whole text as one chunk when it fits", async () => {
    expect(await chunk("short", 5, 4)).toEqual(["short"]);
  });

  it("defaults overlap to 0", async () => {
    expect(await chunk("abcdef", 2)).toEqual(["ab", "cd", "ef"]);
  });

  it("splits into single characters at size 1", async () => {
    expect(await chunk("a b", 1)).toEqual(["a", " ", "b"]);
  });

  it.each([
    [5, 5],
    [5, 6],
    [1, 1],
  ])("rejects size %i with overlap %i as op-arguments", async (size, overlap) => {
    const run = runOp("chunk_text", { text: "some text", size, overlap });
    await expect(run).rejects.toMatchObject({ code: "op-arguments", retryable: false });
    await expect(run).rejects.toThrow(/overlap \(\d+\) must be smaller than size \(\d+\)/);
  });

  it("rejects a size below 1 and a negative overlap through the schema", async () => {
    await expect(runOp("chunk_text", { text: "x", size: 0 })).rejects.toMatchObject({ code: "op-arguments" });
    await expect(runOp("chunk_text", { text: "x", size: 3, overlap: -1 })).rejects.toMatchObject({
      code: "op-arguments",
    });
    await expect(runOp("chunk_text", { text: "x", size: 2.5 })).rejects.toMatchObject({
      code: "op-arguments",
    });
  });
});
