import { describe, expect, it } from "vitest";
import { MAX_CACHED_RUNS, RunInputs } from "../../engine/store/run-inputs.ts";

describe("RunInputs", () => {
  it("parses a run's input once and hands the parsed value out after", () => {
    const inputs = new RunInputs();
    expect(inputs.cached("r1")).toBeUndefined();
    const value = inputs.parse("r1", '{"values":[1,2,3]}');
    expect(value).toEqual({ values: [1, 2, 3] });
    expect(inputs.cached("r1")?.value).toBe(value);
  });

  it("keeps a null input apart from a run it does not have", () => {
    const inputs = new RunInputs();
    expect(inputs.parse("r1", null)).toBeNull();
    expect(inputs.cached("r1")).toBeDefined();
    expect(inputs.cached("r1")?.value).toBeNull();
  });

  it("keeps at most MAX_CACHED_RUNS runs, however small their inputs: the least recently used go first", () => {
    const inputs = new RunInputs();
    for (let n = 0; n < MAX_CACHED_RUNS; n++) inputs.parse(`r${n}`, `{"n":${n}}`);
    inputs.cached("r0"); // used again: the oldest unused is r1 now
    inputs.parse("newest", '{"n":-1}');
    expect(inputs.cached("r1")).toBeUndefined();
    expect(inputs.cached("r0")?.value).toEqual({ n: 0 });
    expect(inputs.cached("newest")?.value).toEqual({ n: -1 });
    expect(inputs.cached(`r${MAX_CACHED_RUNS - 1}`)?.value).toEqual({ n: MAX_CACHED_RUNS - 1 });
  });
});
