import { describe, expect, it } from "vitest";
import type { ExecutionPlan } from "../../compiler/index.ts";
import { decide, isComplete, runEnd, whyNotStart } from "../../engine/decide.ts";
import { check } from "../helpers/definitions.ts";
import { workflow } from "./harness.ts";

// decide is pure: plain objects in, a decision out.

function planOf(nodes: string, spec = ""): ExecutionPlan {
  const plan = check(workflow("w", nodes, spec)).workflows.get("w");
  if (!plan) throw new Error("invalid test workflow");
  return plan;
}

const diamond = planOf(`    a: { type: transform, expr: "1" }
    b: { type: transform, expr: "nodes.a.output" }
    c: { type: transform, expr: "nodes.a.output" }
    all: { type: transform, expr: "1", needs: [b, c] }
    none: { type: transform, expr: "1", needs: [b, c], trigger: none_failed }
    done: { type: transform, expr: "1", needs: [b, c], trigger: all_done }
`);

describe("decide", () => {
  it("dispatches the roots of a new run", () => {
    expect(decide(diamond, { failing: false, statuses: {} })).toEqual({
      dispatch: ["a"],
      skip: [],
    });
  });

  it("waits until every dependency has finished", () => {
    const view = { failing: false, statuses: { a: "succeeded", b: "succeeded", c: "running" } } as const;
    expect(decide(diamond, view).dispatch).toEqual([]);
  });

  it("applies the trigger rules once dependencies have finished", () => {
    const view = { failing: false, statuses: { a: "succeeded", b: "succeeded", c: "skipped" } } as const;
    expect(decide(diamond, view)).toEqual({
      dispatch: ["none", "done"],
      skip: [{ nodeId: "all", reason: "a dependency did not succeed (trigger: all_succeeded)" }],
    });
    const failed = { failing: false, statuses: { a: "succeeded", b: "failed", c: "succeeded" } } as const;
    expect(decide(diamond, failed).skip.map((s) => s.nodeId)).toEqual(["all", "none"]);
  });

  it("with failFast, a failing run starts only all_done nodes", () => {
    const view = { failing: true, statuses: { a: "succeeded", b: "succeeded", c: "succeeded" } } as const;
    const decision = decide(diamond, view);
    expect(decision.dispatch).toEqual(["done"]);
    expect(decision.skip.map((s) => s.reason)).toEqual([
      "the run is failing (failFast)",
      "the run is failing (failFast)",
    ]);
  });

  it("without failFast, a failing run goes on", () => {
    const plan = planOf(
      `    a: { type: transform, expr: "1" }\n    b: { type: transform, expr: "1" }\n`,
      "  failFast: false\n",
    );
    expect(decide(plan, { failing: true, statuses: { a: "failed" } }).dispatch).toEqual(["b"]);
  });

  it("a run is complete when every node has finished, and ends failed if failing", () => {
    const statuses = {
      a: "succeeded",
      b: "succeeded",
      c: "succeeded",
      all: "succeeded",
      none: "skipped",
      done: "failed",
    } as const;
    expect(isComplete(diamond, { statuses })).toBe(true);
    expect(isComplete(diamond, { statuses: { ...statuses, done: "running" } })).toBe(false);
    expect(isComplete(diamond, { statuses: { a: "succeeded" } })).toBe(false);
    expect(runEnd(diamond, false, [])).toEqual({ status: "succeeded" });
    const failed = (nodeId: string, item: number | null, message: string) =>
      ({ nodeId, item, status: "failed", error: { code: "x", message } }) as const;
    // The first failed node in plan order names the error; a map item's record is not its node's.
    expect(
      runEnd(diamond, true, [
        failed("c", null, "c broke"),
        failed("b", 0, "item"),
        failed("b", null, "b broke"),
      ]),
    ).toEqual({ status: "failed", error: { code: "node-failed", message: 'node "b" failed: b broke' } });
    expect(runEnd(diamond, true, [])).toEqual({
      status: "failed",
      error: { code: "failed", message: "the run failed" },
    });
  });

  it("failFast stops a queued node from starting once the run is failing, all_done nodes aside", () => {
    expect(whyNotStart(diamond.nodes.all as never, diamond, true)).toBe("the run is failing (failFast)");
    expect(whyNotStart(diamond.nodes.done as never, diamond, true)).toBeNull();
    expect(whyNotStart(diamond.nodes.all as never, diamond, false)).toBeNull();
  });

  it("considers only the candidates it is given, and only pending ones", () => {
    expect(decide(diamond, { failing: false, statuses: {} }, ["b"]).dispatch).toEqual([]);
    expect(decide(diamond, { failing: false, statuses: { a: "queued" } }, ["a"]).dispatch).toEqual([]);
  });
});
