import { githubData, githubProperty } from "../findings-format.ts";
import type { CaseResult } from "./run-tests.ts";

/**
 * `pflow test` output formats. text: one line per case (✓/✗), the differences
 * under each failed one, a summary line; junit: JUnit XML for CI test reports
 * (one testsuite per WorkflowTest document); github: an annotation at the line
 * of each failing case, then the summary.
 */
export type TestFormat = "text" | "junit" | "github";
export const TEST_FORMATS: readonly TestFormat[] = ["text", "junit", "github"];

export function formatResults(results: readonly CaseResult[], format: TestFormat, elapsedMs: number): string {
  switch (format) {
    case "text":
      return textReport(results, elapsedMs);
    case "junit":
      return junitReport(results, elapsedMs);
    case "github":
      return githubReport(results, elapsedMs);
  }
}

export function summaryLine(results: readonly CaseResult[], elapsedMs: number): string {
  const failed = results.filter((r) => !r.passed).length;
  const tests = new Set(results.map((r) => `${r.file}\u0000${r.test}`)).size;
  const cases = `${results.length} case${results.length === 1 ? "" : "s"}`;
  const documents = `${tests} test${tests === 1 ? "" : "s"}`;
  return `${cases} in ${documents}: ${results.length - failed} passed, ${failed} failed (${seconds(elapsedMs)} s)`;
}

function textReport(results: readonly CaseResult[], elapsedMs: number): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.passed ? "✓" : "✗"} ${r.test} › ${r.case}  ${r.file}:${r.line} (${r.durationMs} ms)`);
    for (const failure of r.failures) lines.push(`    ${failure}`);
  }
  lines.push(summaryLine(results, elapsedMs));
  return `${lines.join("\n")}\n`;
}

/** https://github.com/testmoapp/junitxml: testsuites > testsuite > testcase (> failure). */
function junitReport(results: readonly CaseResult[], elapsedMs: number): string {
  const suites = new Map<string, CaseResult[]>();
  for (const r of results) {
    const key = `${r.file}\u0000${r.test}`;
    suites.set(key, [...(suites.get(key) ?? []), r]);
  }
  const failedAll = results.filter((r) => !r.passed).length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="pflow test" tests="${results.length}" failures="${failedAll}" errors="0" time="${seconds(elapsedMs)}">`,
  ];
  for (const cases of suites.values()) {
    const first = cases[0] as CaseResult;
    const failed = cases.filter((r) => !r.passed).length;
    const time = cases.reduce((sum, r) => sum + r.durationMs, 0);
    out.push(
      `  <testsuite name="${xml(first.test)}" tests="${cases.length}" failures="${failed}" errors="0" skipped="0" time="${seconds(time)}" file="${xml(first.file)}">`,
    );
    for (const r of cases) {
      const attributes = `name="${xml(r.case)}" classname="${xml(r.test)}" file="${xml(r.file)}" line="${r.line}" time="${seconds(r.durationMs)}"`;
      if (r.passed) {
        out.push(`    <testcase ${attributes}/>`);
        continue;
      }
      out.push(`    <testcase ${attributes}>`);
      out.push(
        `      <failure message="${xml(r.failures[0] ?? "failed")}" type="pflow.expectation">${xml(r.failures.join("\n"))}</failure>`,
      );
      out.push("    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}

/** https://docs.github.com/actions/reference/workflow-commands-for-github-actions */
function githubReport(results: readonly CaseResult[], elapsedMs: number): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.passed) continue;
    const title = `${r.test} › ${r.case}`;
    lines.push(
      `::error file=${githubProperty(r.file)},line=${r.line},col=${r.column},title=${githubProperty(title)}::${githubData(r.failures.join("\n"))}`,
    );
  }
  lines.push(summaryLine(results, elapsedMs));
  return `${lines.join("\n")}\n`;
}

/** XML text and attribute values: the five special characters escaped, characters XML 1.0 forbids dropped. */
function xml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;")
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "");
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
