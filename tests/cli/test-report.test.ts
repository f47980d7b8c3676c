import { describe, expect, it } from "vitest";
import type { CaseResult } from "../../cli/test/run-tests.ts";
import { formatResults, summaryLine } from "../../cli/test/test-report.ts";

const result = (overrides: Partial<CaseResult>): CaseResult => ({
  test: "t",
  workflow: "w",
  case: "c",
  file: "defs/t.test.yaml",
  line: 7,
  column: 7,
  passed: true,
  failures: [],
  durationMs: 12,
  ...overrides,
});

const failed = result({
  case: 'quotes "<&>" and, commas: colons',
  passed: false,
  failures: ['output.a: expected "<b>", got "x"', "100% wrong\nsecond line"],
  line: 12,
});

describe("pflow test reports", () => {
  it("text: one line per case, the differences indented under a failed one, the summary", () => {
    expect(formatResults([result({}), failed], "text", 1234)).toBe(
      [
        "✓ t › c  defs/t.test.yaml:7 (12 ms)",
        '✗ t › quotes "<&>" and, commas: colons  defs/t.test.yaml:12 (12 ms)',
        '    output.a: expected "<b>", got "x"',
        "    100% wrong\nsecond line",
        "2 cases in 1 test: 1 passed, 1 failed (1.234 s)",
        "",
      ].join("\n"),
    );
  });

  it("junit: XML special characters escaped, a suite per document, times in seconds", () => {
    const xml = formatResults(
      [result({}), failed, result({ test: "u", file: "defs/u.test.yaml" })],
      "junit",
      50,
    );
    expect(xml).toContain('<testsuites name="pflow test" tests="3" failures="1" errors="0" time="0.050">');
    expect(xml).toContain(
      '<testsuite name="t" tests="2" failures="1" errors="0" skipped="0" time="0.024" file="defs/t.test.yaml">',
    );
    expect(xml).toContain('<testsuite name="u" tests="1" failures="0"');
    expect(xml).toContain(
      '<testcase name="quotes &quot;&lt;&amp;&gt;&quot; and, commas: colons" classname="t" file="defs/t.test.yaml" line="12" time="0.012">',
    );
    expect(xml).toContain(
      '<failure message="output.a: expected &quot;&lt;b&gt;&quot;, got &quot;x&quot;" type="pflow.expectation">output.a: expected &quot;&lt;b&gt;&quot;, got &quot;x&quot;\n100% wrong\nsecond line</failure>',
    );
  });

  it("github: an annotation per failed case, its properties and message escaped, then the summary", () => {
    expect(formatResults([result({}), failed], "github", 10).split("\n")).toEqual([
      '::error file=defs/t.test.yaml,line=12,col=7,title=t › quotes "<&>" and%2C commas%3A colons::output.a: expected "<b>", got "x"%0A100%25 wrong%0Asecond line',
      "2 cases in 1 test: 1 passed, 1 failed (0.010 s)",
      "",
    ]);
  });

  it("the summary counts cases and documents, singular and plural", () => {
    expect(summaryLine([result({})], 0)).toBe("1 case in 1 test: 1 passed, 0 failed (0.000 s)");
  });
});
