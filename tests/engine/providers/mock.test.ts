import { describe, expect, it } from "vitest";
import type { ModelVersion, ValueTemplate } from "../../../definitions/index.ts";
import { asExecutionError } from "../../../engine/errors.ts";
import { estimateUsage, MockProvider } from "../../../engine/providers/mock.ts";
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
