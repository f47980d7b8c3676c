import jsonata from "jsonata";
import { describe, expect, it } from "vitest";
import { scanTemplate } from "../../compiler/index.ts";

const parses = (source: string) => {
  try {
    jsonata(source);
    return true;
  } catch {
    return false;
  }
};

describe("scanTemplate", () => {
  it("leaves strings without braces alone", () => {
    expect(scanTemplate("plain text")).toEqual({ kind: "literal" });
  });

  it("takes one expression, whitespace around it aside, as a typed value", () => {
    expect(scanTemplate("{{ inputs.count }}")).toEqual({
      kind: "expression",
      expression: { source: "inputs.count", offset: 0 },
    });
    expect(scanTemplate("  {{ inputs.count }}\n")).toMatchObject({ kind: "expression" });
  });

  it("splits interpolations into text and expressions", () => {
    expect(scanTemplate("Write a {{ inputs.tone }} listing for {{ inputs.city }}.")).toEqual({
      kind: "interpolation",
      parts: [
        "Write a ",
        { source: "inputs.tone", offset: 8 },
        " listing for ",
        { source: "inputs.city", offset: 38 },
        ".",
      ],
    });
  });

  it("closes at the brace pair that ends the expression, not the first", () => {
    const scanned = scanTemplate('{{ {"a": {"b": 1}} }}');
    expect(scanned).toEqual({ kind: "expression", expression: { source: '{"a": {"b": 1}}', offset: 0 } });
  });

  it("is not confused by braces in strings and comments", () => {
    expect(scanTemplate("{{ '}}' & /* }} */ inputs.x }}")).toMatchObject({
      kind: "expression",
      expression: { source: "'}}' & /* }} */ inputs.x" },
    });
  });

  it("with a parser, is not confused by quotes in regular expressions", () => {
    const text = `{{ $match(inputs.t, /the "Landlord" isn't/) }}`;
    expect(scanTemplate(text, parses)).toMatchObject({ kind: "expression" });
  });

  it("reports an expression that is never closed", () => {
    expect(scanTemplate("Hello {{ inputs.name")).toEqual({ kind: "unclosed", offset: 6 });
  });
});
