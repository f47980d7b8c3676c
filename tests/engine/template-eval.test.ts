import { describe, expect, it } from "vitest";
import type { ValueTemplate } from "../../compiler/index.ts";
import { ExecutionError } from "../../engine/errors.ts";
import { evaluateExpression, evaluateTemplate, truthy } from "../../engine/template-eval.ts";

const expr = (source: string): ValueTemplate => ({ t: "expression", expr: source });
const context = {
  inputs: { tone: "luxury", rooms: 3, tags: ["sea", "view"], facts: { pool: true } },
  nodes: { clean: { output: { text: "Nice flat" }, status: "succeeded" } },
};

async function failure(promise: Promise<unknown>): Promise<ExecutionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExecutionError);
  return error as ExecutionError;
}

describe("evaluateTemplate", () => {
  it("returns a literal as it is", async () => {
    expect(await evaluateTemplate({ t: "literal", value: { a: [1, "x"] } }, context)).toEqual({
      a: [1, "x"],
    });
  });

  it("keeps the JSON type of a single expression", async () => {
    expect(await evaluateTemplate(expr("inputs.rooms"), context)).toBe(3);
    expect(await evaluateTemplate(expr("inputs.facts.pool"), context)).toBe(true);
    expect(await evaluateTemplate(expr("inputs.facts"), context)).toEqual({ pool: true });
    expect(await evaluateTemplate(expr("inputs.rooms > 2 ? 'big' : 'small'"), context)).toBe("big");
  });

  it("gives plain JSON: arrays without JSONata's sequence marks, objects with a prototype", async () => {
    const tags = await evaluateTemplate(expr("inputs.tags.$uppercase($)"), context);
    expect(tags).toStrictEqual(["SEA", "VIEW"]);
    const built = (await evaluateTemplate(expr('{"n": inputs.rooms}'), context)) as object;
    expect(Object.getPrototypeOf(built)).toBe(Object.prototype);
    expect(built).toStrictEqual({ n: 3 });
  });

  it("turns JSONata's undefined (no match) into null", async () => {
    expect(await evaluateTemplate(expr("inputs.missing"), context)).toBeNull();
    expect(await evaluateTemplate(expr('{"a": inputs.missing, "b": 1}'), context)).toStrictEqual({ b: 1 });
  });

  it("interpolates strings as they are, other values as JSON, undefined as nothing", async () => {
    const template: ValueTemplate = {
      t: "interpolation",
      parts: [
        "A ",
        { expr: "inputs.tone" },
        " home, ",
        { expr: "inputs.rooms" },
        " rooms ",
        { expr: "inputs.tags" },
        " ",
        { expr: "inputs.facts" },
        " [",
        { expr: "inputs.missing" },
        "] ",
        { expr: "null" },
      ],
    };
    expect(await evaluateTemplate(template, context)).toBe(
      'A luxury home, 3 rooms ["sea","view"] {"pool":true} [] null',
    );
  });

  it("evaluates objects and arrays recursively", async () => {
    const template: ValueTemplate = {
      t: "object",
      entries: [
        ["prompt", { t: "interpolation", parts: ["Write: ", { expr: "nodes.clean.output.text" }] }],
        ["list", { t: "array", items: [expr("inputs.rooms"), { t: "literal", value: "x" }] }],
        ["__proto__", { t: "literal", value: "kept as a key" }],
      ],
    };
    const value = (await evaluateTemplate(template, context)) as Record<string, unknown>;
    expect(value.prompt).toBe("Write: Nice flat");
    expect(value.list).toEqual([3, "x"]);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, "__proto__")).toBe(true);
  });

  it("fails non-retryably naming the expression and carrying $error's message verbatim", async () => {
    const error = await failure(evaluateTemplate(expr('$error("no {{price}} given")'), context));
    expect(error.code).toBe("expression");
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('expression "$error("no {{price}} given")" failed: no {{price}} given');
  });

  it("carries JSONata's own message for a dynamic error", async () => {
    const error = await failure(evaluateTemplate(expr("inputs.tone + 1"), context));
    expect(error.message).toMatch(/^expression "inputs.tone \+ 1" failed: .*must evaluate to a number/);
  });

  it("refuses a function as a value", async () => {
    const error = await failure(evaluateTemplate(expr("function($x) { $x }"), context));
    expect(error.message).toContain("not a JSON value");
  });

  it("stops non-terminating recursion at the depth limit", async () => {
    const started = Date.now();
    const error = await failure(
      evaluateTemplate(expr("( $f := function($n) { 1 + $f($n + 1) }; $f(0) )"), {}),
    );
    expect(error.message).toContain("Stack overflow");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("stops an endless tail-recursive loop at the timeout", async () => {
    const started = Date.now();
    const loop = expr("( $f := function($n) { $f($n + 1) }; $f(0) )");
    const error = await failure(evaluateTemplate(loop, {}, { timeoutMs: 100 }));
    expect(error.message).toContain("Evaluation timeout after 100 milliseconds");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("stops a long-running expression at the timeout", async () => {
    const slow = expr("$reduce([1..90000], function($a, $b) { $a + $b })");
    const error = await failure(evaluateTemplate(slow, {}, { timeoutMs: 20 }));
    expect(error.message).toContain("Evaluation timeout after 20 milliseconds");
    // The same expression under the default limit finishes: limits are part of the cache key.
    expect(await evaluateTemplate(slow, {})).toBe(4050045000);
  });

  it("charges each expression only for its own time", async () => {
    // Fifteen parts of about 20 ms each: side by side, each would see the others' time and pass 150 ms.
    const part = { expr: "$reduce([1..10000], function($a, $b) { $a + $b })" };
    const template: ValueTemplate = { t: "interpolation", parts: Array.from({ length: 15 }, () => part) };
    expect(await evaluateTemplate(template, {}, { timeoutMs: 150 })).toBe("50005000".repeat(15));
  });

  it("caps the length of sequences", async () => {
    const error = await failure(evaluateTemplate(expr("$count([1..11])"), {}, { maxSequence: 10 }));
    expect(error.message).toMatch(/failed: The maximum sequence length of \d+ was exceeded/);
  });
});

describe("evaluateExpression", () => {
  it("evaluates a bare expression against any value", async () => {
    expect(await evaluateExpression("result.label", { result: { label: "ok" } })).toBe("ok");
    expect(await evaluateExpression("nothing", { result: 1 })).toBeNull();
  });
});

describe("evaluations side by side", () => {
  it("each is charged for its own time only: concurrent slow expressions do not time out each other", async () => {
    // About 300 ms of work each, 15% of the budget (so a machine three times
    // slower still passes); eight at once take 2.4 s of wall clock, past the
    // budget, if each were charged for the others' time.
    const slow = "$count([1..200000].($ * 2))";
    const limits = { maxSequence: 1_000_000, timeoutMs: 2_000 };
    const results = await Promise.all(Array.from({ length: 8 }, () => evaluateExpression(slow, {}, limits)));
    expect(results).toEqual(Array.from({ length: 8 }, () => 200000));
  }, 60_000);
});

describe("when truthiness follows JSONata's $boolean", () => {
  it.each([
    [false, false],
    [null, false],
    [0, false],
    ["", false],
    [[], false],
    [{}, false],
    [[0, false], false],
    [true, true],
    [1, true],
    ["no", true],
    [[0, 1], true],
    [{ a: 1 }, true],
  ])("%j → %s", (value, expected) => {
    expect(truthy(value)).toBe(expected);
  });
});
