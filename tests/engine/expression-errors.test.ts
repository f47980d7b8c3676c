import { describe, expect, it } from "vitest";
import { yaml } from "../helpers/definitions.ts";
import { harness } from "./harness.ts";

// An expression that fails at run time says which node, which expression, and
// its line in the YAML of the version that ran.

const FLOW = yaml`
  apiVersion: pflow/v1
  kind: Workflow
  metadata: { name: pricing }
  spec:
    inputs:
      type: object
      properties: { price: { type: string } }
    nodes:
      parse:
        type: transform
        expr: "$number(inputs.price) * 2"
      label:
        type: transform
        when: "{{ nodes.parse.output > 0 }}"
        expr: "'ok'"
`;

describe("run-time expression errors", () => {
  it("name the node, the expression and its YAML line", async () => {
    const h = await harness(FLOW);
    try {
      const run = await h.run("pricing", { price: "cheap" });
      expect(run.status).toBe("failed");
      const parse = run.nodes.parse as { status: string; error: { code: string; message: string } };
      expect(parse.status).toBe("failed");
      expect(parse.error.code).toBe("expression");
      expect(parse.error.message).toBe(
        'node "parse" (line 11 of workflow "pricing" version 1): expression "$number(inputs.price) * 2" failed: Unable to cast value to a number: "cheap"',
      );
    } finally {
      await h.close();
    }
  });

  it("point at the when condition's line when it is the expression that failed", async () => {
    const h = await harness(FLOW.replace("nodes.parse.output > 0", "$substring(nodes.parse.output, 'x')"));
    try {
      const run = await h.run("pricing", { price: "2" });
      const label = run.nodes.label as { error: { message: string } };
      expect(label.error.message).toMatch(
        /^node "label" \(line 14 of workflow "pricing" version 1\): expression "\$substring\(nodes\.parse\.output, 'x'\)" failed: /,
      );
    } finally {
      await h.close();
    }
  });
});
