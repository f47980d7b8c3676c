import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseLine, readCorpus } from "../../../bench/pii/corpus.ts";
import { CORPUS_PATH, generateCorpus } from "../../../bench/pii/generate-corpus.ts";

// bench/pii's labelled corpus: reproducible from its generator, and as large
// and varied as issue 16 asks (300+ texts, five languages, four kinds).
describe("the PII corpus", () => {
  it("is what generate-corpus.ts writes (regenerate it after changing the templates)", () => {
    expect(readFileSync(CORPUS_PATH, "utf8")).toBe(generateCorpus());
  });

  it("has at least 300 texts in five languages, every kind labelled, and many numbers that are not PII", () => {
    const corpus = readCorpus(CORPUS_PATH);
    expect(corpus.length).toBeGreaterThanOrEqual(300);
    expect(new Set(corpus.map((t) => t.language))).toEqual(new Set(["pt", "es", "en", "fr", "de"]));
    const kinds = new Set(corpus.flatMap((t) => t.pii.map((s) => s.kind)));
    expect(kinds).toEqual(new Set(["email", "phone", "iban", "card"]));
    const other = corpus.flatMap((t) => t.other.map((s) => s.kind));
    expect(other.length).toBeGreaterThan(corpus.length);
    expect(new Set(other)).toEqual(
      new Set(["area", "date", "id", "postcode", "price", "reference", "time", "year"]),
    );
  });

  it("parses marks into plain text and offsets", () => {
    const text = parseLine("x\tpt\tnote\tLigue [[phone:912 345 678]] até {{price:645 000 €}}.");
    expect(text.text).toBe("Ligue 912 345 678 até 645 000 €.");
    expect(text.pii).toEqual([{ kind: "phone", start: 6, end: 17 }]);
    expect(text.other).toEqual([{ kind: "price", start: 22, end: 31 }]);
    expect(() => parseLine("only\ttwo")).toThrow(/not id, language, style, text/);
  });
});
