/**
 * redact_pii's accuracy and speed on the labelled corpus (corpus.tsv, written
 * by generate-corpus.ts): precision and recall per kind, overall and per
 * language, how many of the numbers that are not personal data were redacted
 * anyway, and throughput. The same figures for the heuristic redact_pii had
 * before issue 16 (e-mail regex + legacy-phone-numbers.ts, kept here only for
 * this comparison; it had no IBAN or card kind), so the two can be compared.
 *
 * Counting, per kind:
 * - a found span is right when a labelled span of its kind lies inside it and
 *   it adds nothing to that span but spaces or punctuation (a span that eats a
 *   neighbouring word or number is wrong);
 * - recall: labelled spans found rightly / labelled spans (a number redacted
 *   only in part is a leak);
 * - precision: found spans that are right / found spans.
 * Goal (issue 16): recall >= 0.99 and precision >= 0.98 for every kind.
 *
 * Run: npm run bench:pii  (add --misses to list what each finder got wrong)
 */
import { performance } from "node:perf_hooks";
import { findPii } from "../../engine/preprocess/pii/find.ts";
import { DEFAULT_REGIONS } from "../../engine/preprocess/pii/regions.ts";
import { PII_KINDS, type PiiKind, type PiiSpan } from "../../engine/preprocess/pii/span.ts";
import { type LabelledText, readCorpus } from "./corpus.ts";
import { CORPUS_PATH, LANGUAGES } from "./generate-corpus.ts";
import { findLegacyPii } from "./legacy.ts";

type Finder = (text: string) => PiiSpan[];

const FINDERS: Readonly<Record<string, Finder>> = {
  "before (heuristic)": findLegacyPii,
  "after (libphonenumber-js, ibantools)": (text) => findPii(text, PII_KINDS, DEFAULT_REGIONS),
};

interface Tally {
  labelled: number;
  found: number;
  recalled: number;
  right: number;
}

const corpus = readCorpus(CORPUS_PATH);
const showMisses = process.argv.includes("--misses");
const bytes = corpus.reduce((n, t) => n + Buffer.byteLength(t.text), 0);
const otherKinds = [...new Set(corpus.flatMap((t) => t.other.map((s) => s.kind)))].sort();
console.log(
  `corpus: ${corpus.length} texts, ${(bytes / 1024).toFixed(1)} KB; ` +
    `labelled personal data: ${PII_KINDS.map((k) => `${k} ${count(corpus, k)}`).join(", ")}; ` +
    `other numbers: ${corpus.reduce((n, t) => n + t.other.length, 0)}`,
);

for (const [name, find] of Object.entries(FINDERS)) {
  const byKind = new Map<string, Tally>();
  const tally = (key: string) => {
    let t = byKind.get(key);
    if (t === undefined) {
      t = { labelled: 0, found: 0, recalled: 0, right: 0 };
      byKind.set(key, t);
    }
    return t;
  };
  const wronglyRedacted = new Map<string, number>();
  const misses: string[] = [];
  for (const item of corpus) {
    const found = find(item.text);
    for (const kind of PII_KINDS) {
      const labelled = item.pii.filter((s) => s.kind === kind);
      const mine = found.filter((s) => s.kind === kind);
      for (const key of [kind, `${kind}/${item.language}`]) {
        const t = tally(key);
        t.labelled += labelled.length;
        t.found += mine.length;
        t.recalled += labelled.filter((l) => mine.some((m) => matches(item.text, m, l))).length;
        t.right += mine.filter((m) => labelled.some((l) => matches(item.text, m, l))).length;
      }
      if (showMisses) {
        for (const l of labelled.filter((l) => !mine.some((m) => matches(item.text, m, l)))) {
          misses.push(`  leaked ${kind} ${JSON.stringify(item.text.slice(l.start, l.end))} in ${item.id}`);
        }
        for (const m of mine.filter((m) => !labelled.some((l) => matches(item.text, m, l)))) {
          misses.push(
            `  wrong ${kind} ${JSON.stringify(item.text.slice(m.start, m.end))} in ${item.id}: ${item.text}`,
          );
        }
      }
    }
    for (const other of item.other) {
      if (found.some((f) => f.start < other.end && other.start < f.end)) {
        wronglyRedacted.set(other.kind, (wronglyRedacted.get(other.kind) ?? 0) + 1);
      }
    }
  }
  console.log(`\n## ${name}\n`);
  console.log("| kind | labelled | found | recall | precision |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const kind of PII_KINDS) console.log(row(kind, byKind.get(kind)));
  console.log("\nper language (recall / precision):\n");
  console.log(`| kind | ${LANGUAGES.join(" | ")} |`);
  console.log(`| --- |${LANGUAGES.map(() => " ---: |").join("")}`);
  for (const kind of PII_KINDS) {
    const cells = LANGUAGES.map((language) => {
      const t = byKind.get(`${kind}/${language}`);
      return t === undefined || t.labelled === 0
        ? "-"
        : `${ratio(t.recalled, t.labelled)} / ${ratio(t.right, t.found)}`;
    });
    console.log(`| ${kind} | ${cells.join(" | ")} |`);
  }
  const redacted = otherKinds.map((kind) => {
    const total = corpus.reduce((n, t) => n + t.other.filter((s) => s.kind === kind).length, 0);
    return `${kind} ${wronglyRedacted.get(kind) ?? 0}/${total}`;
  });
  console.log(`\nnumbers that are not personal data but were redacted: ${redacted.join(", ")}`);
  console.log(`throughput: ${throughput(find, corpus)}`);
  if (showMisses && misses.length > 0) console.log(`\nmisses:\n${misses.join("\n")}`);
}

function count(texts: readonly LabelledText[], kind: PiiKind): number {
  return texts.reduce((n, t) => n + t.pii.filter((s) => s.kind === kind).length, 0);
}

/** `found` covers `labelled` and adds at most spaces and punctuation to it. */
function matches(text: string, found: PiiSpan, labelled: { start: number; end: number }): boolean {
  if (found.start > labelled.start || found.end < labelled.end) return false;
  const extra = text.slice(found.start, labelled.start) + text.slice(labelled.end, found.end);
  return !/[\p{L}\p{N}]/u.test(extra);
}

function ratio(part: number, whole: number): string {
  return whole === 0 ? "-" : (part / whole).toFixed(3);
}

function row(kind: string, t: Tally | undefined): string {
  if (t === undefined) return `| ${kind} | 0 | 0 | - | - |`;
  return `| ${kind} | ${t.labelled} | ${t.found} | ${ratio(t.recalled, t.labelled)} | ${ratio(t.right, t.found)} |`;
}

/** KB/s over the whole corpus, the best of a few rounds (the machine is shared). */
function throughput(find: Finder, texts: readonly LabelledText[]): string {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    for (const item of texts) find(item.text);
    best = Math.min(best, performance.now() - started);
  }
  return `${(bytes / 1024 / (best / 1000)).toFixed(0)} KB/s (${((texts.length / best) * 1000).toFixed(0)} texts/s)`;
}
