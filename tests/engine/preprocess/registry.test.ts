import { describe, expect, it } from "vitest";
import { schemaSet } from "../../../compiler/schemas.ts";
import type { PreprocessOp } from "../../../engine/preprocess/op.ts";
import { builtInOps, PreprocessRegistry } from "../../../engine/preprocess/registry.ts";
import { runOp } from "./run-op.ts";

const signal = new AbortController().signal;

describe("builtInOps", () => {
  it("registers one op for every op schema in schemas/ops", () => {
    expect(builtInOps().names()).toEqual([...schemaSet().ops.keys()].sort());
    expect(builtInOps().names()).toEqual([
      "chunk_text",
      "json_parse",
      "normalize_text",
      "redact_pii",
      "validate",
    ]);
  });

  it("finds ops by name", () => {
    const registry = builtInOps();
    expect(registry.get("normalize_text")?.name).toBe("normalize_text");
    expect(registry.get("nope")).toBeUndefined();
  });
});

describe("PreprocessRegistry.run: the op", () => {
  it("is an unknown-op failure when not registered, with a suggestion", async () => {
    const failure = runOp("normalise_text", { text: "x" });
    await expect(failure).rejects.toMatchObject({ code: "unknown-op", retryable: false });
    await expect(failure).rejects.toThrow(
      'unknown preprocess op "normalise_text" (did you mean "normalize_text"?)',
    );
    await expect(failure).rejects.toThrow(
      "the ops are chunk_text, json_parse, normalize_text, redact_pii, validate",
    );
  });
});

describe("PreprocessRegistry.run: the arguments", () => {
  it("fills in defaults: normalize_text keeps case and markup unless asked", async () => {
    expect(await runOp("normalize_text", { text: " <B>Big</B> " })).toEqual({ text: "<B>Big</B>" });
  });

  it("fills in defaults: redact_pii redacts every kind", async () => {
    expect(await runOp("redact_pii", { text: "a@example.com 415-736-1234" })).toEqual({
      text: "[EMAIL] [PHONE]",
      redactions: { email: 1, phone: 1, iban: 0, card: 0, total: 2 },
    });
  });

  it("fills in defaults: chunk_text has no overlap", async () => {
    expect(await runOp("chunk_text", { text: "abcd", size: 2 })).toEqual({ chunks: ["ab", "cd"] });
  });

  it("hands the op the checked arguments with defaults, and the signal", async () => {
    let seen: { args: Record<string, unknown>; signal: AbortSignal } | undefined;
    const spy: PreprocessOp = {
      name: "normalize_text",
      run(args, given) {
        seen = { args, signal: given };
        return "done";
      },
    };
    const registry = new PreprocessRegistry().register(spy);
    expect(await registry.run("normalize_text", { text: "x" }, signal)).toBe("done");
    expect(seen).toEqual({ args: { text: "x", lowercase: false, stripHtml: false }, signal });
  });

  it("leaves the caller's arguments untouched", async () => {
    const raw: Record<string, unknown> = { text: "a@example.com" };
    await runOp("redact_pii", raw);
    expect(raw).toEqual({ text: "a@example.com" });
  });

  it("waits for an op that returns a promise", async () => {
    const slow: PreprocessOp = { name: "json_parse", run: async (args) => `later: ${args.text}` };
    expect(await new PreprocessRegistry().register(slow).run("json_parse", { text: "x" }, signal)).toBe(
      "later: x",
    );
  });

  it.each([
    ["a missing argument", "normalize_text", {}, "(root) must have required property 'text'"],
    ["a wrong type", "normalize_text", { text: 1 }, "/text must be string"],
    ["a wrong option type", "normalize_text", { text: "x", lowercase: "yes" }, "/lowercase must be boolean"],
    [
      "an unknown argument",
      "json_parse",
      { text: "1", strict: true },
      'must NOT have additional properties ("strict")',
    ],
    [
      "an unknown kind",
      "redact_pii",
      { text: "x", kinds: ["ssn"] },
      '/kinds/0 must be equal to one of the allowed values: "email", "phone"',
    ],
    ["a size below 1", "chunk_text", { text: "x", size: 0 }, "/size must be >= 1"],
    ["a fractional size", "chunk_text", { text: "x", size: 1.5 }, "/size must be integer"],
    ["a missing schema", "validate", { data: 1 }, "(root) must have required property 'schema'"],
  ])("is an op-arguments failure for %s", async (_what, name, args, violation) => {
    const failure = runOp(name, args);
    await expect(failure).rejects.toMatchObject({ code: "op-arguments", retryable: false });
    await expect(failure).rejects.toThrow(`${name}: with does not fit the op's schema: `);
    await expect(failure).rejects.toThrow(violation);
  });

  it("lists every violation of the arguments", async () => {
    const failure = runOp("chunk_text", { text: 5, size: "big", overlap: -2, extra: 1 });
    for (const violation of [
      "/text must be string",
      "/size must be integer",
      "/overlap must be >= 0",
      'must NOT have additional properties ("extra")',
    ]) {
      await expect(failure).rejects.toThrow(violation);
    }
  });

  it("does not run the op when the signal is already aborted", async () => {
    let ran = false;
    const op: PreprocessOp = {
      name: "json_parse",
      run() {
        ran = true;
        return null;
      },
    };
    const controller = new AbortController();
    controller.abort();
    await expect(
      new PreprocessRegistry().register(op).run("json_parse", { text: "1" }, controller.signal),
    ).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(ran).toBe(false);
  });
});

describe("PreprocessRegistry.register", () => {
  it("refuses an op without a schema in schemas/ops", () => {
    expect(() => new PreprocessRegistry().register({ name: "shout", run: () => null })).toThrow(
      "add schemas/ops/shout.schema.json",
    );
  });

  it("refuses a name registered twice", () => {
    const op: PreprocessOp = { name: "json_parse", run: () => null };
    expect(() => new PreprocessRegistry().register(op).register(op)).toThrow(
      '"json_parse" is registered twice',
    );
  });
});
