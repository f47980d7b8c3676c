import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../../engine/limits/circuit-breaker.ts";

const SETTINGS = { failureRatio: 0.5, minCalls: 4, windowMs: 10_000, openForMs: 5_000 };
const T0 = 1_700_000_000_000;

function breaker(settings = SETTINGS): CircuitBreaker {
  return new CircuitBreaker(settings);
}

describe("a circuit breaker", () => {
  it("stays closed until the window holds minCalls, then opens at the failure ratio", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.record("failed", T0 + i);
    // Three failures of three calls: below minCalls, it counts for nothing yet.
    expect(b.state).toBe("closed");
    b.record("ok", T0 + 3);
    // 3 of 4 failed, but the ratio is checked when a failure comes in.
    expect(b.state).toBe("closed");
    b.record("failed", T0 + 4);
    expect(b.state).toBe("open");
    expect(b.permit(T0 + 5)).toBe(false);
    expect(b.reopensAt).toBe(T0 + 4 + 5_000);
  });

  it("does not open below the ratio", () => {
    const b = breaker();
    for (let i = 0; i < 20; i++) b.record(i % 3 === 2 ? "failed" : "ok", T0 + i);
    expect(b.state).toBe("closed");
    expect(b.permit(T0 + 30)).toBe(true);
  });

  it("forgets calls older than its window", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.record("failed", T0 + i);
    // 11 s later the three failures are out of the 10 s window: one more is not enough.
    b.record("failed", T0 + 11_000);
    expect(b.state).toBe("closed");
    for (let i = 1; i < 4; i++) b.record("failed", T0 + 11_000 + i);
    expect(b.state).toBe("open");
  });

  it("ignores calls that say nothing of the model", () => {
    const b = breaker();
    for (let i = 0; i < 10; i++) b.record("ignored", T0 + i);
    for (let i = 0; i < 3; i++) b.record("failed", T0 + 10 + i);
    expect(b.state).toBe("closed");
  });

  it("half-opens after openFor, lets one probe through, and closes on its success with an empty window", () => {
    const b = breaker();
    for (let i = 0; i < 4; i++) b.record("failed", T0);
    expect(b.permit(T0 + 4_999)).toBe(false);
    expect(b.permit(T0 + 5_000)).toBe(true);
    expect(b.state).toBe("half-open");
    // The probe is out: nothing else goes through meanwhile.
    expect(b.permit(T0 + 5_001)).toBe(false);
    b.record("ok", T0 + 5_100);
    expect(b.state).toBe("closed");
    expect(b.permit(T0 + 5_101)).toBe(true);
    // The failures before it no longer count.
    for (let i = 0; i < 3; i++) b.record("failed", T0 + 5_200);
    expect(b.state).toBe("closed");
  });

  it("opens again when the probe fails, for another openFor", () => {
    const b = breaker();
    for (let i = 0; i < 4; i++) b.record("failed", T0);
    expect(b.permit(T0 + 5_000)).toBe(true);
    b.record("failed", T0 + 5_500);
    expect(b.state).toBe("open");
    expect(b.permit(T0 + 10_499)).toBe(false);
    expect(b.permit(T0 + 10_500)).toBe(true);
  });

  it("lets another probe through when the last one proved nothing", () => {
    const b = breaker();
    for (let i = 0; i < 4; i++) b.record("failed", T0);
    expect(b.permit(T0 + 5_000)).toBe(true);
    b.record("ignored", T0 + 5_001);
    expect(b.state).toBe("half-open");
    expect(b.permit(T0 + 5_002)).toBe(true);
  });

  it("with failureRatio 1 opens only when every call in the window failed", () => {
    const b = breaker({ ...SETTINGS, failureRatio: 1 });
    b.record("ok", T0);
    for (let i = 0; i < 10; i++) b.record("failed", T0 + i);
    expect(b.state).toBe("closed");
  });
});
