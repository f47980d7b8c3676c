import { describe, expect, it } from "vitest";
import { apply, render, stateOf } from "../../cli/watch-view.ts";

// The view of `pflow runs watch`, folded from a run and its events, drawn as text.

const T0 = Date.parse("2026-12-06T10:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function run() {
  return stateOf({
    id: "r1",
    workflow: { name: "listing", version: 3 },
    status: "running",
    error: null,
    startedAt: at(0),
    finishedAt: null,
    nodes: {
      fetch: { status: "succeeded", attempts: 1, startedAt: at(0), finishedAt: at(400) },
      draft: { status: "queued", attempts: 0 },
      photos: { status: "pending", attempts: 0 },
    },
  });
}

describe("watch view", () => {
  it("draws each node with its status, time, attempts and map items", () => {
    const state = run();
    expect(
      apply(state, { type: "node.running", at: at(500), nodeId: "draft", status: "running", attempts: 1 }),
    ).toBe("draft running");
    expect(
      apply(state, {
        type: "node.failed",
        at: at(900),
        nodeId: "draft",
        status: "queued",
        attempts: 1,
        error: { code: "upstream", message: "503" },
      }),
    ).toBe("draft queued");
    expect(
      apply(state, { type: "node.running", at: at(1000), nodeId: "draft", status: "running", attempts: 2 }),
    ).toBe("draft running (attempt 2)");
    apply(state, { type: "node.running", at: at(1000), nodeId: "photos", status: "running", attempts: 1 });
    for (const item of [0, 1, 2])
      apply(state, {
        type: "node.queued",
        at: at(1000),
        nodeId: "photos",
        item,
        status: "queued",
        attempts: 0,
      });
    apply(state, {
      type: "node.succeeded",
      at: at(1200),
      nodeId: "photos",
      item: 1,
      status: "succeeded",
      attempts: 1,
    });
    expect(render(state, T0 + 1500)).toEqual([
      "run r1  listing v3  running  1.5s",
      "  ✓ fetch   succeeded     0.4s",
      "  ● draft   running       1.0s  attempt 2",
      "  ● photos  running       0.5s  items 1/3",
    ]);
  });

  it("ends with the run's error when it failed, and says the change once", () => {
    const state = run();
    apply(state, {
      type: "node.failed",
      at: at(700),
      nodeId: "draft",
      status: "failed",
      attempts: 3,
      error: { code: "upstream", message: "503 from the provider" },
    });
    expect(
      apply(state, {
        type: "run.failed",
        at: at(800),
        status: "failed",
        error: { code: "node-failed", message: 'node "draft" failed' },
      }),
    ).toBe('run failed (node-failed: node "draft" failed)');
    expect(apply(state, { type: "run.failed", at: at(800), status: "failed" })).toBeUndefined();
    const lines = render(state, T0 + 5000);
    expect(lines[0]).toBe("run r1  listing v3  failed  0.8s");
    expect(lines[2]).toBe("  ✗ draft   failed              attempt 3  upstream: 503 from the provider");
    expect(lines.at(-1)).toBe('error: node-failed: node "draft" failed');
  });

  it("clips lines to the terminal's width", () => {
    const state = run();
    for (const line of render(state, T0, 20)) expect(line.length).toBeLessThanOrEqual(20);
  });
});
