import { afterEach, describe, expect, it } from "vitest";
import type { RunJson } from "../../engine/run-view.ts";
import { ApprovalRefused } from "../../engine/waits/approvals.ts";
import { SignalRefused } from "../../engine/waits/signals.ts";
import { type Harness, harness, workflow } from "./harness.ts";

// Wait and approval nodes end to end on the embedded adapters: what ends a
// wait, what it holds meanwhile (nothing), and what is refused.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function nodeStatus(runId: string, nodeId: string): Promise<string | undefined> {
  return (await h?.engine.runJson(runId))?.nodes[nodeId]?.status;
}

async function finished(runId: string): Promise<RunJson> {
  await h?.engine.waitForRun(runId, 10_000);
  return (await h?.engine.runJson(runId)) as RunJson;
}

const SIGNALLED = workflow(
  "signalled",
  `    docs:
      type: wait
      signal: documents-uploaded
      schema: { type: object, required: [files], properties: { files: { type: array } } }
      timeout: 1h
    count: { type: transform, expr: "$count(nodes.docs.output.files)" }
`,
);

describe("signal waits", () => {
  it("a waiting node holds no lease; the signal's data is its output, and the run goes on", async () => {
    h = await harness(SIGNALLED);
    const run = await h.engine.startRun({ workflow: "signalled", input: {} });
    await until("waiting", async () => (await nodeStatus(run.id, "docs")) === "waiting");
    const view = (await h.engine.runJson(run.id)) as RunJson;
    expect(view.status).toBe("running");
    expect(view.nodes.docs).toMatchObject({
      status: "waiting",
      waitingFor: "signal",
      signal: "documents-uploaded",
    });
    const execution = await h.engine.services.store.getExecution(`${run.id}/docs`);
    expect(execution).toMatchObject({ status: "waiting", leaseToken: null });

    const sent = await h.engine.signal({
      runId: run.id,
      name: "documents-uploaded",
      data: { files: ["a", "b"] },
    });
    expect(sent.created).toBe(true);
    const done = await finished(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.nodes.docs).toMatchObject({
      status: "succeeded",
      output: { files: ["a", "b"] },
      attempts: 1,
    });
    expect(done.nodes.count?.output).toBe(2);
    const types = (await h.engine.services.store.listHistory(run.id, { limit: 100, nodeId: "docs" })).map(
      (e) => e.type,
    );
    expect(types).toEqual([
      "node.queued",
      "node.running",
      "attempt.started",
      "node.waiting",
      "attempt.succeeded",
      "node.succeeded",
    ]);
    expect((await h.engine.services.store.waits.getSignal(sent.signal.id))?.state).toBe("delivered");
  });

  it("a signal sent before its node waits is kept, and taken when the node starts", async () => {
    h = await harness(
      workflow(
        "early",
        `    slow: { type: wait, for: 300ms }
    docs: { type: wait, signal: go, needs: [slow] }
`,
      ),
    );
    const run = await h.engine.startRun({ workflow: "early", input: {} });
    const sent = await h.engine.signal({ runId: run.id, name: "go", data: { early: true } });
    expect((await h.engine.services.store.waits.getSignal(sent.signal.id))?.state).toBe("kept");
    expect(await nodeStatus(run.id, "docs")).toBe("pending");
    const done = await finished(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.nodes.docs?.output).toEqual({ early: true });
  });

  it("refuses data that breaks the schema (400, with the violations, nothing stored), an unknown name (404) and an ended run (409)", async () => {
    h = await harness(SIGNALLED);
    const run = await h.engine.startRun({ workflow: "signalled", input: {} });
    const refused = await h.engine
      .signal({ runId: run.id, name: "documents-uploaded", data: { files: "a" } })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SignalRefused);
    expect(refused).toMatchObject({
      status: 400,
      violations: [{ path: "/files", message: expect.any(String) }],
    });
    expect(await h.engine.services.store.waits.findUnsettledSignals(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    await expect(h.engine.signal({ runId: run.id, name: "documents", data: {} })).rejects.toMatchObject({
      status: 404,
      message:
        'workflow signalled has no wait node for signal "documents"; its signals are documents-uploaded',
    });
    await h.engine.runner.cancelRun(run.id);
    await expect(
      h.engine.signal({ runId: run.id, name: "documents-uploaded", data: { files: [] } }),
    ).rejects.toMatchObject({ status: 409 });
  });

  it("is idempotent under an idempotency key: the same signal, delivered once", async () => {
    h = await harness(
      workflow(
        "twice",
        `    first: { type: wait, signal: go }
    second: { type: wait, signal: go, needs: [first] }
`,
      ),
    );
    const run = await h.engine.startRun({ workflow: "twice", input: {} });
    const a = await h.engine.signal({ runId: run.id, name: "go", data: 1, idempotencyKey: "k1" });
    const b = await h.engine.signal({ runId: run.id, name: "go", data: 2, idempotencyKey: "k1" });
    expect(b).toMatchObject({ created: false, signal: { id: a.signal.id, data: 1 } });
    await until("first done", async () => (await nodeStatus(run.id, "first")) === "succeeded");
    await until("second waiting", async () => (await nodeStatus(run.id, "second")) === "waiting");
    // The replayed key did not make a second signal for the second node.
    expect(await nodeStatus(run.id, "second")).toBe("waiting");
    await h.engine.signal({ runId: run.id, name: "go", data: 3, idempotencyKey: "k2" });
    const done = await finished(run.id);
    expect([done.nodes.first?.output, done.nodes.second?.output]).toEqual([1, 3]);
  });

  it("a signal wait past its timeout fails with wait-timeout, and onError applies", async () => {
    h = await harness(
      workflow(
        "impatient",
        `    docs: { type: wait, signal: go, timeout: 200ms, onError: continue }
    after: { type: transform, expr: "nodes.docs.status", needs: [docs], trigger: all_done }
`,
      ),
    );
    const done = await h.run("impatient");
    expect(done.status).toBe("succeeded");
    expect(done.nodes.docs).toMatchObject({
      status: "failed",
      error: { code: "wait-timeout", message: 'node "docs" waited 200ms (its timeout) for signal "go"' },
    });
    expect(done.nodes.after?.output).toBe("failed");
  });

  it("in a map template, each item waits and takes one signal", async () => {
    h = await harness(
      workflow(
        "per-item",
        `    each: { type: map, items: "{{ inputs.xs }}", node: { type: wait, signal: item-done } }\n`,
      ),
    );
    const run = await h.engine.startRun({ workflow: "per-item", input: { xs: [1, 2, 3] } });
    await until("items waiting", async () => {
      const items = await h?.engine.services.store.getItems(run.id, "each");
      return items?.length === 3 && items.every((i) => i.status === "waiting");
    });
    for (const n of [10, 20, 30]) await h.engine.signal({ runId: run.id, name: "item-done", data: n });
    const done = await finished(run.id);
    expect(done.status).toBe("succeeded");
    expect([...((done.nodes.each?.output ?? []) as number[])].sort()).toEqual([10, 20, 30]);
  });
});

describe("races", () => {
  it("a signal sent as its run starts is delivered once, whichever of sender and node comes second", async () => {
    const racing = await harness(workflow("racing", `    docs: { type: wait, signal: go }\n`));
    h = racing;
    const runs = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const run = await racing.engine.startRun({ workflow: "racing", input: {} });
        await racing.engine.signal({ runId: run.id, name: "go", data: i });
        return run.id;
      }),
    );
    for (const [i, runId] of runs.entries()) {
      const done = await finished(runId);
      expect(done.nodes.docs?.output).toBe(i);
    }
    expect(await h.engine.services.store.waits.findUnsettledSignals(Number.MAX_SAFE_INTEGER, 100)).toEqual(
      [],
    );
  });

  it("two signals racing to one waiting node: one is delivered, the other kept for the next wait", async () => {
    h = await harness(
      workflow(
        "one-of-two",
        `    first: { type: wait, signal: go }
    gate: { type: wait, for: 200ms, needs: [first] }
    second: { type: wait, signal: go, needs: [gate] }
`,
      ),
    );
    const run = await h.engine.startRun({ workflow: "one-of-two", input: {} });
    await until("first waiting", async () => (await nodeStatus(run.id, "first")) === "waiting");
    const [a, b] = await Promise.all([
      h.engine.signal({ runId: run.id, name: "go", data: "a" }),
      h.engine.signal({ runId: run.id, name: "go", data: "b" }),
    ]);
    const states = [a, b].map(
      async (sent) => (await h?.engine.services.store.waits.getSignal(sent.signal.id))?.state,
    );
    expect((await Promise.all(states)).sort()).toEqual(["delivered", "kept"]);
    const done = await finished(run.id);
    expect([done.nodes.first?.output, done.nodes.second?.output].sort()).toEqual(["a", "b"]);
  });
});

describe("a process that dies between a delivery's steps", () => {
  it("a signal stored but never offered, and one taken but never delivered, are delivered by the sweeper", async () => {
    h = await harness(
      workflow(
        "half-done",
        `    a: { type: wait, signal: first }
    b: { type: wait, signal: second }
`,
      ),
    );
    const { store } = h.engine.services;
    const run = await h.engine.startRun({ workflow: "half-done", input: {} });
    await until("both waiting", async () =>
      (await store.getExecutions(run.id)).every((e) => e.status === "waiting"),
    );
    const now = Date.now();
    // The sender died after storing: the signal is new, nobody offered it.
    await store.waits.addSignal({ id: "s-new", runId: run.id, name: "first", data: "one", createdAt: now });
    // A deliverer died after taking and binding: the signal is consumed, the node still waits.
    await store.waits.addSignal({
      id: "s-taken",
      runId: run.id,
      name: "second",
      data: "two",
      createdAt: now,
    });
    await store.waits.consumeSignal(run.id, "second", `${run.id}/b`, now);
    expect(await store.waits.bindSignal(`${run.id}/b`, "s-taken", now)).toBe("s-taken");
    const done = await finished(run.id);
    expect(done.status).toBe("succeeded");
    expect([done.nodes.a?.output, done.nodes.b?.output]).toEqual(["one", "two"]);
    expect((await store.waits.getSignal("s-new"))?.state).toBe("delivered");
    expect((await store.waits.getSignal("s-taken"))?.state).toBe("delivered");
  });

  it("a signal taken by a node that then timed out goes back, for the next wait", async () => {
    h = await harness(
      workflow(
        "timed-out-taker",
        `    a: { type: wait, signal: go, timeout: 300ms, onError: continue }
    b: { type: wait, signal: go, needs: [a], trigger: all_done }
`,
      ),
    );
    const { store } = h.engine.services;
    const run = await h.engine.startRun({ workflow: "timed-out-taker", input: {} });
    await until("a waiting", async () => (await nodeStatus(run.id, "a")) === "waiting");
    await store.waits.addSignal({
      id: "s-late",
      runId: run.id,
      name: "go",
      data: "late",
      createdAt: Date.now(),
    });
    await store.waits.consumeSignal(run.id, "go", `${run.id}/a`, Date.now());
    await store.waits.bindSignal(`${run.id}/a`, "s-late", Date.now());
    // The deliverer "died" here; the timeout wins, and the sweeper gives the signal to b.
    const done = await finished(run.id);
    expect(done.nodes.a).toMatchObject({ status: "failed", error: { code: "wait-timeout" } });
    expect(done.nodes.b).toMatchObject({ status: "succeeded", output: "late" });
  });
});

describe("timer waits", () => {
  it("for: a duration from the node's start; until: a timestamp; the node's timeout fails a longer one", async () => {
    h = await harness(
      workflow(
        "timers",
        `    pause: { type: wait, for: 200ms }
    at: { type: wait, until: "{{ inputs.at }}" }
    past: { type: wait, until: "2020-01-01T00:00:00Z" }
    too_long: { type: wait, for: 1h, timeout: 100ms, onError: continue }
`,
      ),
    );
    const started = Date.now();
    const done = await h.run("timers", { at: new Date(Date.now() + 300).toISOString() });
    expect(done.status).toBe("succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(done.nodes.pause).toMatchObject({ status: "succeeded", output: { until: expect.any(String) } });
    expect(done.nodes.past?.status).toBe("succeeded");
    expect(done.nodes.too_long).toMatchObject({ status: "failed", error: { code: "wait-timeout" } });
  });

  it("a rerun of a run cancelled while waiting waits again, for a new signal", async () => {
    h = await harness(workflow("rerun-wait", `    docs: { type: wait, signal: go }\n`));
    const first = await h.engine.startRun({ workflow: "rerun-wait", input: {} });
    await until("waiting", async () => (await nodeStatus(first.id, "docs")) === "waiting");
    await h.engine.runner.cancelRun(first.id);
    expect(await nodeStatus(first.id, "docs")).toBe("cancelled");
    await h.engine.runner.retryRun(first.id);
    await until("waiting again", async () => (await nodeStatus(first.id, "docs")) === "waiting");
    await h.engine.signal({ runId: first.id, name: "go", data: "again" });
    const done = await finished(first.id);
    expect(done).toMatchObject({ status: "succeeded", round: 2 });
    expect(done.nodes.docs?.output).toBe("again");
  });

  it("an until that is no timestamp fails the node, not retryably", async () => {
    h = await harness(workflow("bad-until", `    at: { type: wait, until: "{{ inputs.at }}" }\n`));
    const done = await h.run("bad-until", { at: "tomorrow" });
    expect(done.nodes.at).toMatchObject({ status: "failed", error: { code: "wait-until" } });
  });

  it("the run's timeout still ends a run that waits", async () => {
    h = await harness(
      workflow("bounded", `    forever: { type: wait, signal: never }\n`, "  timeout: 200ms\n"),
    );
    const done = await h.run("bounded");
    expect(done.status).toBe("timed_out");
    expect(done.nodes.forever?.status).toBe("cancelled");
  });
});

describe("approvals", () => {
  const REVIEWED = workflow(
    "reviewed",
    `    draft: { type: transform, expr: "'a fine flat'" }
    review: { type: approval, needs: [draft], description: "Check the description", timeout: 1h }
    publish: { type: transform, when: "{{ nodes.review.output.approved }}", expr: "nodes.draft.output" }
`,
  );

  it("the decision is the node's output; approved publishes, a second decision is refused (409)", async () => {
    h = await harness(REVIEWED);
    const run = await h.engine.startRun({ workflow: "reviewed", input: {} });
    await until("waiting", async () => (await nodeStatus(run.id, "review")) === "waiting");
    const pending = await h.engine.services.store.waits.listWaiting({ kind: "approval", limit: 10 });
    expect(pending.items.map((e) => e.key)).toEqual([`${run.id}/review`]);
    const output = await h.engine.decide({
      runId: run.id,
      nodeId: "review",
      item: null,
      approved: true,
      comment: "ok",
      by: "alice",
    });
    expect(output).toMatchObject({ approved: true, by: "alice", comment: "ok", at: expect.any(String) });
    const again = h.engine.decide({
      runId: run.id,
      nodeId: "review",
      item: null,
      approved: false,
      comment: null,
      by: "bob",
    });
    await expect(again).rejects.toBeInstanceOf(ApprovalRefused);
    await expect(again).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining("decided already (approved by alice"),
    });
    const done = await finished(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.nodes.publish).toMatchObject({ status: "succeeded", output: "a fine flat" });
  });

  it("an approval in a map template is decided per item (?item=N)", async () => {
    h = await harness(
      workflow(
        "per-item-review",
        `    each: { type: map, items: "{{ inputs.xs }}", node: { type: approval } }\n`,
      ),
    );
    const run = await h.engine.startRun({ workflow: "per-item-review", input: { xs: ["a", "b"] } });
    await until("items waiting", async () => {
      const items = await h?.engine.services.store.getItems(run.id, "each");
      return items?.length === 2 && items.every((i) => i.status === "waiting");
    });
    await expect(
      h.engine.decide({ runId: run.id, nodeId: "each", item: null, approved: true, comment: null, by: "a" }),
    ).rejects.toMatchObject({ status: 404, message: expect.stringContaining("name the map item (?item=N)") });
    for (const item of [1, 0])
      await h.engine.decide({
        runId: run.id,
        nodeId: "each",
        item,
        approved: item === 0,
        comment: null,
        by: "a",
      });
    const done = await finished(run.id);
    expect(((done.nodes.each?.output ?? []) as { approved: boolean }[]).map((o) => o.approved)).toEqual([
      true,
      false,
    ]);
  });

  it("rejected skips what needs approval; a decision on no approval node is 404; timeout → approval-timeout", async () => {
    h = await harness([REVIEWED, workflow("unreviewed", `    review: { type: approval, timeout: 150ms }\n`)]);
    const run = await h.engine.startRun({ workflow: "reviewed", input: {} });
    await until("waiting", async () => (await nodeStatus(run.id, "review")) === "waiting");
    await expect(
      h.engine.decide({ runId: run.id, nodeId: "draft", item: null, approved: true, comment: null, by: "a" }),
    ).rejects.toMatchObject({ status: 404 });
    await h.engine.decide({
      runId: run.id,
      nodeId: "review",
      item: null,
      approved: false,
      comment: "no",
      by: "a",
    });
    const done = await finished(run.id);
    expect(done.nodes.publish?.status).toBe("skipped");
    const late = await h.run("unreviewed");
    expect(late.status).toBe("failed");
    expect(late.nodes.review).toMatchObject({ status: "failed", error: { code: "approval-timeout" } });
  });
});
