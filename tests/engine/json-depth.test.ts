import { afterEach, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, tooDeepAt } from "../../engine/json-depth.ts";
import { InputRejected } from "../../engine/runner.ts";
import { type Harness, harness } from "./harness.ts";

// Data nested past MAX_JSON_DEPTH is refused where it enters (an input, a
// node's output) by a walk with its own stack, before structuredClone,
// JSON.stringify, canonical JSON or JSONata walk it recursively.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function nested(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
}

describe("tooDeepAt", () => {
  it("takes data up to the limit, and names the first container past it", () => {
    expect(tooDeepAt(nested(MAX_JSON_DEPTH, (inner) => [inner]))).toBeUndefined();
    expect(tooDeepAt(nested(MAX_JSON_DEPTH + 1, (inner) => [inner]))).toBe(
      `/${Array(64).fill("0").join("/")}`,
    );
    expect(tooDeepAt({ ok: 1, "a/b": { "c~": nested(70, (inner) => ({ x: inner })) } }, 3)).toBe(
      "/a~1b/c~0/x",
    );
    expect(tooDeepAt("text")).toBeUndefined();
    expect(tooDeepAt(null)).toBeUndefined();
  });

  it("walks a million levels without overflowing the stack", () => {
    expect(
      tooDeepAt(
        nested(1_000_000, (inner) => [inner]),
        2,
      ),
    ).toBe("/0/0");
    expect(
      tooDeepAt(
        nested(100_000, (inner) => ({ a: inner })),
        100_000,
      ),
    ).toBeUndefined();
  });
});

const ECHO = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: echo }
spec:
  inputs: { type: object }
  nodes:
    copy: { type: transform, expr: "inputs" }
`;

const DEEP_OUTPUT = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: deep-output }
spec:
  nodes:
    build: { type: transform, expr: "${"[".repeat(70)}1${"]".repeat(70)}" }
`;

describe("the engine", () => {
  it("refuses an input nested 4,000 levels deep before cloning it, naming where", async () => {
    h = await harness(ECHO);
    const start = h.engine.startRun({ workflow: "echo", input: nested(4000, (inner) => [inner]) });
    await expect(start).rejects.toBeInstanceOf(InputRejected);
    await expect(start).rejects.toMatchObject({
      violations: [{ path: `/${Array(64).fill("0").join("/")}`, message: "nests deeper than 64 levels" }],
    });
  });

  it("fails a node whose output nests too deep, without retrying", async () => {
    h = await harness(DEEP_OUTPUT);
    const run = await h.run("deep-output");
    expect(run.status).toBe("failed");
    expect(run.nodes.build).toMatchObject({
      status: "failed",
      attempts: 1,
      error: {
        code: "output-too-deep",
        message: `the output of node "build" nests deeper than 64 levels, at /${Array(64).fill("0").join("/")}`,
      },
    });
  });
});
