import { describe, expect, it } from "vitest";
import { pflow } from "../helpers/cli.ts";

describe("pflow graph", () => {
  it("prints Mermaid by default", async () => {
    const { code, stdout } = await pflow("graph", "examples/listing-description.yaml");
    expect(code).toBe(0);
    expect(stdout.startsWith("flowchart TD\n")).toBe(true);
    expect(stdout).toMatch(/n\d+ --> n\d+/);
  });

  it("prints DOT", async () => {
    const { code, stdout } = await pflow("graph", "examples/lead-scoring.yaml", "--format", "dot");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^digraph "lead-scoring" \{\n/);
    expect(stdout).toContain("style=dashed"); // a node with trigger: all_done
    expect(stdout.trimEnd().endsWith("}")).toBe(true);
  });

  it("exits 2 for a file that is not a valid workflow, printing why", async () => {
    const { code, stderr } = await pflow("graph", "examples/models/listing.yaml");
    expect(code).toBe(2);
    expect(stderr).toContain("holds no workflow");
  });

  it("exits 2 for a missing file or a bad format", async () => {
    expect((await pflow("graph", "nope.yaml")).code).toBe(2);
    expect((await pflow("graph", "examples/lead-scoring.yaml", "--format", "png")).code).toBe(2);
  });
});
