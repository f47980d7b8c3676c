import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { validateDefinitions } from "../../compiler/index.ts";
import { InputRejected } from "../../engine/runner.ts";
import { type Harness, harness, mockModel, workflow } from "./harness.ts";
import { type FakeServer, startFakeServer } from "./providers/fake-openai-server.ts";

// Runs end to end on the embedded adapters: every rule of the language that the
// engine owns, and the faults it must survive.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(async () => {
  await server.close();
});

function httpModel(name: string, path: string, extra = ""): string {
  return `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: ${name} }\nspec:\n${extra}  versions:\n    "1": { provider: http, endpoint: "${server.url}${path}" }\n`;
}

describe("trigger rules and when", () => {
  it("skips on a falsy when, and each trigger rule decides its joins", async () => {
    h = await harness(
      workflow(
        "branches",
        `    a: { type: transform, expr: "inputs.go" }
    b: { type: transform, expr: "'b'", when: "{{ nodes.a.output }}" }
    c: { type: transform, expr: "'c'", needs: [b] }
    d: { type: transform, expr: "'d'", needs: [b], trigger: none_failed }
    e: { type: transform, expr: "'e'", needs: [b], trigger: all_done }
`,
      ),
    );
    const run = await h.run("branches", { go: false });
    expect(run.status).toBe("succeeded");
    expect(Object.fromEntries(Object.entries(run.nodes).map(([id, n]) => [id, n.status]))).toEqual({
      a: "succeeded",
      b: "skipped",
      c: "skipped",
      d: "succeeded",
      e: "succeeded",
    });
    expect(run.output).toEqual({ d: "d", e: "e" });
    const taken = await h.run("branches", { go: true });
    expect(taken.nodes.c?.status).toBe("succeeded");
  });
});

describe("failure", () => {
  const nodes = `    bad: { type: model, model: broken }
    slow: { type: model, model: slow }
    after_slow: { type: transform, expr: "'ran'", needs: [slow] }
    after_bad: { type: transform, expr: "'ran'", needs: [bad] }
    cleanup: { type: transform, expr: "$string(nodes.bad.status)", needs: [bad], trigger: all_done }
`;
  const models = [
    mockModel("broken", { "1": 'error: "the model refused"' }),
    mockModel("slow", { "1": "response: { ok: true }, latency: 150ms" }),
  ];

  it("failFast (the default): nothing new starts but all_done nodes; the run fails with the reason", async () => {
    h = await harness([workflow("fast", nodes), ...models]);
    const run = await h.run("fast");
    expect(run.status).toBe("failed");
    expect(run.error).toEqual({ code: "node-failed", message: 'node "bad" failed: the model refused' });
    expect(run.nodes.bad).toMatchObject({ status: "failed", attempts: 1, error: { code: "mock-error" } });
    expect(run.nodes.slow?.status).toBe("succeeded");
    expect(run.nodes.after_slow?.status).toBe("skipped");
    expect(run.nodes.after_bad?.status).toBe("skipped");
    expect(run.nodes.cleanup).toMatchObject({ status: "succeeded", output: "failed" });
  });

  it("failFast: false lets independent branches run on", async () => {
    h = await harness([workflow("slowfail", nodes, "  failFast: false\n"), ...models]);
    const run = await h.run("slowfail");
    expect(run.status).toBe("failed");
    expect(run.nodes.after_slow?.status).toBe("succeeded");
    expect(run.nodes.after_bad?.status).toBe("skipped");
  });

  it("onError: continue ends the node failed with a null output, and the run goes on", async () => {
    h = await harness([
      workflow(
        "tolerant",
        `    bad: { type: model, model: broken, onError: continue }
    next: { type: transform, expr: "'x'", needs: [bad] }
    report: { type: transform, expr: "{ 'status': nodes.bad.status, 'output': nodes.bad.output }", needs: [bad], trigger: all_done }
`,
      ),
      ...models,
    ]);
    const run = await h.run("tolerant");
    expect(run.status).toBe("succeeded");
    expect(run.nodes.bad).toMatchObject({ status: "failed", output: null });
    expect(run.nodes.next?.status).toBe("skipped");
    expect(run.nodes.report?.output).toEqual({ status: "failed", output: null });
  });
});

describe("retries and fallbacks", () => {
  it("retries a retryable error with backoff, as state", async () => {
    h = await harness([
      workflow(
        "flaky",
        `    call: { type: model, model: flaky, retry: { maxAttempts: 3, delay: 20ms, jitter: false } }\n`,
      ),
      mockModel("flaky", { "1": "failures: 2, response: { attempt: '{{ attempt }}' }" }),
    ]);
    const run = await h.run("flaky");
    expect(run.status).toBe("succeeded");
    expect(run.nodes.call).toMatchObject({ attempts: 3, output: { attempt: 3 } });
  });

  it("does not retry a non-retryable error", async () => {
    h = await harness([
      workflow(
        "refused",
        `    call: { type: model, model: broken, retry: { maxAttempts: 5, delay: 10ms } }\n`,
      ),
      mockModel("broken", { "1": 'error: "no"' }),
    ]);
    const run = await h.run("refused");
    expect(run.nodes.call).toMatchObject({ status: "failed", attempts: 1 });
  });

  it("a provider that hangs: the attempt times out, is retried, then the fallback answers", async () => {
    server.respond("hang");
    h = await harness([
      workflow(
        "hangs",
        `    call:\n      type: model\n      model: hanging\n      timeout: 150ms\n      retry: { maxAttempts: 2, delay: 10ms, jitter: false }\n      fallback: [backup]\n      input: { q: 1 }\n`,
      ),
      httpModel("hanging", "/hang"),
      mockModel("backup", { "1": "response: { from: backup }" }),
    ]);
    const run = await h.run("hangs");
    expect(run.status).toBe("succeeded");
    expect(run.nodes.call).toMatchObject({ attempts: 3, model: "backup@1", output: { from: "backup" } });
    expect(server.requests.filter((r) => r.path === "/hang")).toHaveLength(2);
    server.reset();
  });

  it("a provider that returns malformed JSON fails after its attempts, with the reason", async () => {
    server.respond({ text: "{ not json" });
    h = await harness([
      workflow(
        "garbled",
        `    call: { type: model, model: garbled, retry: { maxAttempts: 2, delay: 10ms }, input: {} }\n`,
      ),
      httpModel("garbled", "/garbled"),
    ]);
    const run = await h.run("garbled");
    expect(run.nodes.call).toMatchObject({
      status: "failed",
      attempts: 2,
      error: { code: "malformed-response" },
    });
    server.reset();
  });
});

describe("expressions", () => {
  it("an expression that throws fails the node once, naming the expression and its message", async () => {
    h = await harness(
      workflow("throws", `    boom: { type: transform, expr: "$error('the price is missing')" }\n`),
    );
    const run = await h.run("throws");
    expect(run.nodes.boom).toMatchObject({ status: "failed", attempts: 1 });
    expect(run.nodes.boom?.error?.message).toContain("$error('the price is missing')");
    expect(run.nodes.boom?.error?.message).toContain("the price is missing");
  });

  it("an expression that loops is stopped by the limits and fails the node", async () => {
    h = await harness(
      workflow(
        "loops",
        `    spin: { type: transform, expr: "( $f := function($n){ $n + $f($n + 1) }; $f(0) )" }\n`,
      ),
    );
    const run = await h.run("loops");
    expect(run.nodes.spin?.status).toBe("failed");
    expect(run.nodes.spin?.error?.code).toBe("expression");
  });
});

describe("map", () => {
  it("runs items as their own executions, at most `concurrency` at once, output in item order", async () => {
    let inFlight = 0;
    let most = 0;
    server.respond(() => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => inFlight--, 40);
      return { delayMs: 40, json: { ok: true } };
    });
    h = await harness([
      workflow(
        "fanout",
        `    each:
      type: map
      items: "{{ inputs.list }}"
      concurrency: 2
      node: { type: model, model: echo, input: { n: "{{ item }}", i: "{{ index }}" } }
    doubled:
      type: map
      items: "{{ inputs.list }}"
      node: { type: transform, expr: "item = 3 ? $error('three') : item * 2", onError: continue }
`,
      ),
      httpModel("echo", "/echo").replace("provider: http,", "provider: http, response: 'ok',"),
    ]);
    const run = await h.run("fanout", { list: [1, 2, 3, 4, 5] });
    expect(run.status).toBe("succeeded");
    expect(run.nodes.doubled?.output).toEqual([2, 4, null, 8, 10]);
    expect(run.nodes.each).toMatchObject({ items: 5 });
    expect(server.requests.map((r) => (r.body as { i: number }).i).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBeLessThanOrEqual(2);
    server.reset();
  });

  it("a map over something that is not an array fails with a clear error", async () => {
    h = await harness(
      workflow(
        "notarray",
        `    each: { type: map, items: "{{ inputs.list }}", node: { type: transform, expr: item } }\n`,
      ),
    );
    const run = await h.run("notarray", { list: "abc" });
    expect(run.nodes.each?.error).toEqual({
      code: "map-items",
      message: 'map "each": items must be an array, but the expression gave string',
    });
  });

  it("an item that fails with onError: fail fails the map", async () => {
    h = await harness(
      workflow(
        "itemfails",
        `    each: { type: map, items: "{{ [1, 2] }}", node: { type: transform, expr: "$error('bad item ' & item)" } }\n`,
      ),
    );
    const run = await h.run("itemfails");
    expect(run.status).toBe("failed");
    expect(run.nodes.each?.error?.code).toBe("item-failed");
  });
});

describe("sub-workflows", () => {
  const child = workflow(
    "child",
    `    double: { type: transform, expr: "inputs.n * 2" }\n`,
    "  inputs: { type: object, required: [n] }\n",
  );

  it("a workflow node runs a child run linked to its parent; the child's output is the node's", async () => {
    h = await harness([
      workflow("parent", `    call: { type: workflow, workflow: child, input: { n: 21 } }\n`),
      child,
    ]);
    const run = await h.run("parent");
    expect(run.status).toBe("succeeded");
    expect(run.nodes.call?.output).toEqual({ double: 42 });
    const childRun = await h.engine.runJson(run.nodes.call?.childRunId as string);
    expect(childRun?.parent).toEqual({ runId: run.id, nodeId: "call", item: null });
  });

  it("a child that fails fails the node, saying why", async () => {
    h = await harness([
      workflow("parent", `    call: { type: workflow, workflow: child, input: { n: "x" } }\n`),
      child,
    ]);
    const run = await h.run("parent");
    expect(run.status).toBe("failed");
    expect(run.nodes.call?.error?.code).toBe("child-run-failed");
  });
});

describe("inputs and outputs", () => {
  it("an input that breaks the inputs schema is refused before a run is created", async () => {
    h = await harness(
      workflow(
        "strict",
        `    a: { type: transform, expr: "inputs.tone" }\n`,
        "  inputs: { type: object, required: [property], properties: { tone: { type: string, default: neutral } } }\n",
      ),
    );
    await expect(h.engine.startRun({ workflow: "strict", input: { tone: 3 } })).rejects.toBeInstanceOf(
      InputRejected,
    );
    await expect(h.engine.startRun({ workflow: "strict", input: {} })).rejects.toThrow(
      "/property must have required property 'property'",
    );
    expect((await h.engine.services.store.listRuns({ limit: 10 })).items).toEqual([]);
    const run = await h.run("strict", { property: {} });
    expect(run.output).toEqual({ a: "neutral" });
  });

  it("outputs are evaluated over every node; outputSchema is checked", async () => {
    h = await harness(
      workflow(
        "shaped",
        `    a: { type: transform, expr: "{ 'n': 1 }", outputSchema: { type: object, required: [n] } }
    b: { type: transform, expr: "'text'", outputSchema: { type: number } }
`,
        "  failFast: false\n",
      ),
    );
    const run = await h.run("shaped");
    expect(run.nodes.a?.status).toBe("succeeded");
    expect(run.nodes.b).toMatchObject({ status: "failed", attempts: 1, error: { code: "output-schema" } });
  });

  it("a model output that breaks outputSchema is retried", async () => {
    h = await harness([
      workflow(
        "retryshape",
        `    m: { type: model, model: loose, outputSchema: { type: object, required: [score] }, retry: { maxAttempts: 2, delay: 10ms } }\n`,
      ),
      mockModel("loose", { "1": "response: { text: nope }" }),
    ]);
    const run = await h.run("retryshape");
    expect(run.nodes.m).toMatchObject({ status: "failed", attempts: 2, error: { code: "output-schema" } });
  });
});

describe("timeouts and cancellation", () => {
  it("a run that reaches its timeout ends timed_out, its running nodes aborted", async () => {
    h = await harness([
      workflow("late", `    slow: { type: model, model: glacial }\n`, "  timeout: 200ms\n"),
      mockModel("glacial", { "1": "latency: 5s, response: 1" }),
    ]);
    const started = Date.now();
    const run = await h.run("late");
    expect(run.status).toBe("timed_out");
    expect(run.nodes.slow?.status).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("a retried timed-out run gets the whole timeout again, not the deadline it already passed", async () => {
    h = await harness([
      workflow("late-retry", `    slow: { type: model, model: glacial }\n`, "  timeout: 300ms\n"),
      mockModel("glacial", { "1": "latency: 5s, response: 1" }),
    ]);
    const first = await h.run("late-retry");
    expect(first.status).toBe("timed_out");
    const before = Date.now();
    const retried = await h.engine.runner.retryRun(first.id);
    expect(retried?.status).toBe("running");
    expect(retried?.deadline).toBeGreaterThanOrEqual(before + 300);
    // Its new round runs until the new deadline, and ends timed_out again by its own timer.
    await h.engine.waitForRun(first.id, 10_000);
    const run = await h.engine.runJson(first.id);
    expect(run?.status).toBe("timed_out");
    expect(run?.round).toBe(2);
  });

  it("cancel ends a running run; a second cancel finds nothing to do", async () => {
    h = await harness([
      workflow("cancelme", `    slow: { type: model, model: glacial }\n`),
      mockModel("glacial", { "1": "latency: 5s, response: 1" }),
    ]);
    const started = await h.engine.startRun({ workflow: "cancelme", input: {} });
    const cancelled = await h.engine.runner.cancelRun(started.id);
    expect(cancelled?.status).toBe("cancelled");
    expect(await h.engine.runner.cancelRun(started.id)).toBeNull();
    const run = await h.engine.runJson(started.id);
    expect(run?.nodes.slow?.status).toBe("cancelled");
  });
});

describe("rerun from failed nodes", () => {
  it("keeps what succeeded and runs the rest again", async () => {
    let fail = true;
    server.respond((request) =>
      request.path === "/flip" && fail
        ? { status: 400, json: { error: { message: "not yet" } } }
        : { json: { ok: true } },
    );
    h = await harness([
      workflow(
        "rerun",
        `    first: { type: model, model: steady, input: { step: 1 } }
    second: { type: model, model: flip, input: "{{ nodes.first.output }}" }
`,
      ),
      httpModel("steady", "/steady"),
      httpModel("flip", "/flip"),
    ]);
    const failed = await h.run("rerun");
    expect(failed.status).toBe("failed");
    fail = false;
    const retried = await h.engine.runner.retryRun(failed.id);
    expect(retried?.status).toBe("running");
    await h.engine.waitForRun(failed.id, 10_000);
    const run = await h.engine.runJson(failed.id);
    expect(run?.status).toBe("succeeded");
    expect(run?.nodes.first?.startedAt).toBe(failed.nodes.first?.startedAt);
    expect(server.requests.filter((r) => r.path === "/steady")).toHaveLength(1);
    expect(await h.engine.runner.retryRun(failed.id)).toBeNull();
    server.reset();
  });
});

describe("model pinning", () => {
  it("pins references when the run starts, canary by run id, recorded in the run", async () => {
    h = await harness([
      workflow("pinned", `    m: { type: model, model: writer }\n`),
      mockModel(
        "writer",
        { "1": "response: { v: 1 }", "2": "response: { v: 2 }" },
        "  aliases:\n    production: { version: '1', canary: { version: '2', percent: 50 } }\n",
      ),
    ]);
    const runs = [];
    for (let i = 0; i < 12; i++) runs.push(await h.run("pinned"));
    const versions = new Set(runs.map((r) => r.models.writer));
    expect(versions).toEqual(new Set(["writer@1", "writer@2"]));
    for (const run of runs)
      expect(run.nodes.m?.output).toEqual({ v: run.models.writer === "writer@1" ? 1 : 2 });
  });
});

describe("result cache", () => {
  it("serves an identical call from the cache, marked cached, and coalesces calls in flight", async () => {
    server.respond({ delayMs: 50, json: { answer: 42 } });
    h = await harness([
      workflow(
        "cached",
        `    m: { type: model, model: costly, cache: { ttl: 1h }, input: { q: "{{ inputs.q }}" } }\n`,
      ),
      httpModel("costly", "/costly"),
    ]);
    const [one, two] = await Promise.all([h.run("cached", { q: "a" }), h.run("cached", { q: "a" })]);
    expect(server.requests).toHaveLength(1);
    expect([one.nodes.m?.cached, two.nodes.m?.cached].sort()).toEqual([false, true]);
    const three = await h.run("cached", { q: "a" });
    expect(three.nodes.m).toMatchObject({ cached: true, output: { answer: 42 } });
    await h.run("cached", { q: "b" });
    expect(server.requests).toHaveLength(2);
    server.reset();
  });
});

describe("timeouts of nodes that wait", () => {
  it("a map node's own timeout fails it; no further items start", async () => {
    h = await harness([
      workflow(
        "slowmap",
        `    each: { type: map, timeout: 150ms, concurrency: 1, items: "{{ [1, 2, 3, 4, 5] }}", node: { type: model, model: glacial } }\n`,
      ),
      mockModel("glacial", { "1": "latency: 100ms, response: 1" }),
    ]);
    const run = await h.run("slowmap");
    expect(run.status).toBe("failed");
    expect(run.nodes.each?.error).toEqual({ code: "timeout", message: 'node "each" reached its timeout' });
    const items = await h.engine.services.store.getItems(run.id, "each");
    expect(items.filter((i) => i.status === "pending").length).toBeGreaterThanOrEqual(2);
  });

  it("a workflow node's own timeout fails it and cancels its child run", async () => {
    h = await harness([
      workflow("impatient", `    call: { type: workflow, workflow: sleepy, timeout: 150ms }\n`),
      workflow("sleepy", `    nap: { type: model, model: glacial }\n`),
      mockModel("glacial", { "1": "latency: 5s, response: 1" }),
    ]);
    const run = await h.run("impatient");
    expect(run.nodes.call?.error?.code).toBe("timeout");
    const child = await h.engine.waitForRun(run.nodes.call?.childRunId as string, 5_000);
    expect(child?.status).toBe("timed_out");
  });
});

describe("map items and the run's failure", () => {
  it("an item failing under a map with onError: continue fails the map, not the run", async () => {
    h = await harness(
      workflow(
        "tolerantmap",
        `    each: { type: map, onError: continue, items: "{{ [1, 2] }}", node: { type: transform, expr: "item = 2 ? $error('two') : item" } }
    after: { type: transform, expr: "'went on'", needs: [each], trigger: all_done }
`,
      ),
    );
    const run = await h.run("tolerantmap");
    expect(run.status).toBe("succeeded");
    expect(run.nodes.each).toMatchObject({ status: "failed", output: null, error: { code: "item-failed" } });
    expect(run.nodes.after?.output).toBe("went on");
  });
});

describe("usage and cost", () => {
  it("each model call records its tokens and cost; the run sums them, by currency", async () => {
    h = await harness([
      workflow(
        "priced",
        `    a: { type: model, model: priced, input: { text: "hello there" } }
    b: { type: model, model: priced, input: { text: "and again" } }
    c: { type: model, model: euro, input: { text: "x" } }
`,
      ),
      mockModel("priced", {
        "1": "response: { ok: true }, cost: { inputPerMillion: 1000000, outputPerMillion: 2000000, currency: USD }",
      }),
      mockModel("euro", {
        "1": "response: { ok: true }, cost: { inputPerMillion: 1000000, outputPerMillion: 0, currency: EUR }",
      }),
    ]);
    const run = await h.run("priced");
    const a = run.nodes.a;
    expect(a?.usage?.inputTokens).toBeGreaterThan(0);
    expect(a?.cost).toEqual({
      amount: (a?.usage?.inputTokens ?? 0) * 1 + (a?.usage?.outputTokens ?? 0) * 2,
      currency: "USD",
    });
    const usd = (a?.cost?.amount ?? 0) + (run.nodes.b?.cost?.amount ?? 0);
    expect(run.cost).toEqual({
      amount: null,
      currency: null,
      byCurrency: { USD: usd, EUR: run.nodes.c?.cost?.amount },
    });
    expect(run.usage.totalTokens).toBe(
      ["a", "b", "c"].reduce((sum, id) => sum + (run.nodes[id]?.usage?.totalTokens ?? 0), 0),
    );
  });

  it("a run with no priced model has no cost", async () => {
    h = await harness(workflow("free", `    t: { type: transform, expr: "1" }\n`));
    expect((await h.run("free")).cost).toBeNull();
  });
});

describe("model lifecycle", () => {
  it("no run starts on a retired version, even for a workflow registered before it was retired", async () => {
    h = await harness([
      workflow("pinned-old", `    m: { type: model, model: "writer@1" }\n`),
      mockModel("writer", { "1": "response: 1", "2": "response: 2" }),
    ]);
    const retired = validateDefinitions([
      {
        path: "model.yaml",
        text: mockModel("writer", {
          "1": 'response: 1, stage: retired, stageChange: { reason: "wrong prices" }',
          "2": "response: 2",
        }),
      },
    ]);
    expect(retired.valid).toBe(true);
    await h.engine.services.catalog.register(retired, Date.now());
    await expect(h.engine.startRun({ workflow: "pinned-old", input: {} })).rejects.toMatchObject({
      code: "retired-model",
      message: expect.stringContaining("writer@1, which is retired (wrong prices)"),
    });
  });
});
