import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PROBLEM_BASE, PROBLEMS } from "../../server/problems.ts";

// docs/api.md documents every problem type of server/problems.ts, with its
// status: a client author reads the table there, not the source. One table in
// the code, checked against the docs (as Fastify does with its error codes).

const docs = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
const lines = docs.split("\n");

/** The status a table row or a heading gives for `type`, or undefined if neither names it. */
function documentedStatus(type: string): number | undefined {
  const named = (text: string) => text.includes(`\`${type}\``) || text.includes(`${PROBLEM_BASE}${type}`);
  for (const [i, line] of lines.entries()) {
    if (line.startsWith("|") && named(line)) {
      const cells = line.split("|").map((cell) => cell.trim());
      const status = cells.find((cell) => /^\d{3}$/.test(cell));
      if (status) return Number(status);
    }
    if (/^#{2,6} /.test(line) && named(line)) {
      // A heading: the status is in it or in its section.
      const end = lines.findIndex((next, j) => j > i && /^#{1,6} /.test(next));
      const section = lines.slice(i, end < 0 ? undefined : end).join("\n");
      const status = /\b([45]\d\d)\b/.exec(section)?.[1];
      if (status) return Number(status);
    }
  }
  return undefined;
}

describe("docs/api.md", () => {
  it("gives the problem type URI base", () => {
    expect(docs).toContain(PROBLEM_BASE);
  });

  for (const [type, { status }] of Object.entries(PROBLEMS)) {
    it(`documents the problem type ${type} with status ${status}`, () => {
      expect(documentedStatus(type), `no table row or heading for \`${type}\` with its status`).toBe(status);
    });
  }
});
