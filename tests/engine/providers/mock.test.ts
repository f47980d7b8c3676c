import { describe, expect, it } from "vitest";
import type { ModelVersion, ValueTemplate } from "../../../compiler/index.ts";
import { asExecutionError } from "../../../engine/errors.ts";
import { estimateUsage, MockProvider, wordPieces } from "../../../engine/providers/mock.ts";
import { callOf } from "./provider-call.ts";

const RESPONSE: ValueTemplate = {
  t: "object",
  entries: [
    ["text", { t: "interpolation", parts: ["A lovely ", { expr: "input.kind" }] }],
    ["attempt", { t: "expression", expr: "attempt" }],
  ],
};

function mock(fields: Partial<Extract<ModelVersion, { provider: "mock" }>> = {}): ModelVersion {
  return { provider: "mock", response: RESPONSE, latencyMs: 0, failures: 0, error: null, ...fields };
}

const provider = new MockProvider();

describe("mock provider", () => {
  it("evaluates response against { input, attempt }", async () => {
    const result = await provider.call(callOf(mock(), { kind: "villa" }, { attempt: 2 }));
    expect(result.output).toEqual({ text: "A lovely villa", attempt: 2 });
  });

  it("estimates usage at about four characters of JSON per token", async () => {
    const result = await provider.call(callOf(mock(), { kind: "villa" }));
    expect(result.usage).toEqual(estimateUsage({ kind: "villa" }, result.output));
    // {"kind":"villa"} is 16 characters: 4 tokens; {"text":"A lovely villa","attempt":1}, 37: 10.
    expect(result.usage).toEqual({ inputTokens: 4, outputTokens: 10, totalTokens: 14 });
  });

  it("fails the first N attempts retryably, then answers", async () => {
    const version = mock({ failures: 2 });
    for (const attempt of [1, 2]) {
      await expect(provider.call(callOf(version, { kind: "flat" }, { attempt }))).rejects.toMatchObject({
        code: "mock-failure",
        retryable: true,
      });
    }
    const third = await provider.call(callOf(version, { kind: "flat" }, { attempt: 3 }));
    expect(third.output).toEqual({ text: "A lovely flat", attempt: 3 });
  });

  it("fails every attempt non-retryably with the message of error", async () => {
    const version = mock({ error: "model exploded", failures: 1 });
    for (const attempt of [1, 5]) {
      await expect(provider.call(callOf(version, {}, { attempt }))).rejects.toMatchObject({
        code: "mock-error",
        retryable: false,
        message: "model exploded",
      });
    }
  });

  it("waits for latency before answering", async () => {
    const started = Date.now();
    await provider.call(callOf(mock({ latencyMs: 60 }), { kind: "loft" }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it("stops waiting as soon as the attempt aborts, with the signal's reason", async () => {
    const started = Date.now();
    const call = callOf(mock({ latencyMs: 10_000 }), {}, { signal: AbortSignal.timeout(50) });
    const error = await provider.call(call).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((error as Error).name).toBe("TimeoutError");
    expect(asExecutionError(error)).toMatchObject({ code: "timeout", retryable: true });
  });

  it("rejects at once when the signal has already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("run cancelled"));
    await expect(provider.call(callOf(mock(), {}, { signal: controller.signal }))).rejects.toThrow(
      "run cancelled",
    );
  });

  it("passes an $error() message in the response through, non-retryably", async () => {
    const version = mock({ response: { t: "expression", expr: '$error("no kind given")' } });
    await expect(provider.call(callOf(version, {}))).rejects.toMatchObject({
      code: "expression",
      retryable: false,
      message: 'expression "$error("no kind given")" failed: no kind given',
    });
  });
});

describe("mock provider: streaming", () => {
  const streaming = async (version: ModelVersion, input: unknown, signal = new AbortController().signal) => {
    const deltas: string[] = [];
    const result = await provider.call(callOf(version, input, { signal, onDelta: (t) => deltas.push(t) }));
    return { deltas, result };
  };

  it("streams its text in word-sized pieces; the output and usage are as without streaming", async () => {
    const plain = await provider.call(callOf(mock(), { kind: "sunny villa" }));
    const { deltas, result } = await streaming(mock({ latencyMs: 30 }), { kind: "sunny villa" });
    expect(deltas).toEqual(["A ", "lovely ", "sunny ", "villa"]);
    expect(result).toEqual(plain);
  });

  it("streams the JSON of an output without text, as a model answering an outputSchema writes it", async () => {
    const response: ValueTemplate = { t: "literal", value: { label: "luxury", score: 0.9 } };
    const { deltas, result } = await streaming(mock({ response }), {});
    expect(deltas.join("")).toBe('{"label":"luxury","score":0.9}');
    expect(result.output).toEqual({ label: "luxury", score: 0.9 });
  });

  it("keeps leading whitespace and every character", () => {
    expect(wordPieces("  Two  rooms,\nsea view ")).toEqual(["  Two  ", "rooms,\n", "sea ", "view "]);
    expect(wordPieces("")).toEqual([]);
    expect(wordPieces("   ")).toEqual(["   "]);
  });

  it("streams nothing from an attempt that fails", async () => {
    const deltas: string[] = [];
    const call = callOf(mock({ failures: 1 }), { kind: "flat" }, { onDelta: (t) => deltas.push(t) });
    await expect(provider.call(call)).rejects.toMatchObject({ code: "mock-failure" });
    expect(deltas).toEqual([]);
  });

  it("stops streaming when the attempt aborts", async () => {
    const controller = new AbortController();
    const deltas: string[] = [];
    const call = callOf(
      mock({ latencyMs: 5_000 }),
      { kind: "villa with a view" },
      {
        signal: controller.signal,
        onDelta: (text) => {
          deltas.push(text);
          controller.abort(new DOMException("cancelled", "AbortError"));
        },
      },
    );
    const error = await provider.call(call).catch((e: unknown) => e);
    expect((error as Error).name).toBe("AbortError");
    expect(deltas).toEqual(["A "]);
  });
});
