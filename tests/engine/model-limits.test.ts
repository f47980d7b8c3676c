import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ExecutionRecord } from "../../engine/store/records.ts";
import { expectPaced } from "../helpers/pacing.ts";
import { type Harness, harness, mockModel, workflow } from "./harness.ts";
import { chatReply, errorReply, type FakeServer, startFakeServer } from "./providers/fake-openai-server.ts";

/**
 * A model's limits as the engine applies them: the deployment-wide rate limit
 * (waiting as state, paced, tokens paid off; across processes in tests/integration) and the circuit
 * breaker (straight to the fallback while open, a probe after openFor), with
 * real HTTP calls to a local OpenAI-compatible server.
 */
let server: FakeServer;
const open: Harness[] = [];

beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(() => server.close());
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
  server.reset();
});

async function start(documents: string[], options: Parameters<typeof harness>[1] = {}): Promise<Harness> {
  const h = await harness(documents, options);
  open.push(h);
  return h;
}

function openAiModel(name: string, spec: string, path = "/v1"): string {
  return `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: ${name} }\nspec:\n${spec}  versions:\n    "1": { provider: openai, endpoint: "${server.url}${path}", model: m }\n`;
}

const ONE_CALL = (model: string, extra = "") =>
  workflow(
    `calls-${model}`,
    `    ask: { type: model, model: ${model}, input: { prompt: "{{ inputs.text }}" }${extra} }\n`,
  );

/** Polls the executions of a run until `done` holds (a deadline, not a timing assertion). */
async function executionsWhen(
  h: Harness,
  runId: string,
  done: (executions: ExecutionRecord[]) => boolean,
): Promise<ExecutionRecord[]> {
  for (let i = 0; i < 200; i++) {
    const executions = await h.engine.services.store.getExecutions(runId);
    if (done(executions)) return executions;
    await sleep(25);
  }
  throw new Error("the executions never reached the expected state");
}

/** When each request to the server arrived, in order. */
function arrivals(): number[] {
  return server.requests.map((request) => request.receivedAt).sort((a, b) => a - b);
}

describe("a model's rate limit", () => {
  it("holds a call back as state, not as an attempt or a failure", async () => {
    const h = await start([
      mockModel("slow-lane", { "1": "response: { text: 'ok' }" }, "  rateLimit: { requestsPerMinute: 1 }\n"),
      workflow(
        "two-calls",
        "    a: { type: model, model: slow-lane, input: { x: 1 } }\n" +
          "    b: { type: model, model: slow-lane, input: { x: 2 } }\n",
      ),
    ]);
    const run = await h.engine.startRun({ workflow: "two-calls", input: {} });
    const executions = await executionsWhen(
      h,
      run.id,
      (all) => all.some((e) => e.status === "succeeded") && all.some((e) => e.rateSlotAt !== null),
    );
    const waiting = executions.find((e) => e.status !== "succeeded") as ExecutionRecord;
    // One call a minute: the second waits about a minute, queued with its slot, having used no attempt.
    expect(waiting).toMatchObject({ status: "queued", attempt: 0, attemptsTotal: 0, error: null });
    expect(waiting.notBefore).toBe(waiting.rateSlotAt);
    expect(waiting.notBefore - Date.now()).toBeGreaterThan(50_000);
    expect((await h.engine.services.store.getRun(run.id))?.status).toBe("running");
    // The run says why the node waits, and until when.
    const view = await h.engine.runJson(run.id);
    expect(view?.nodes[waiting.nodeId]).toMatchObject({
      status: "queued",
      attempts: 0,
      waitingFor: "rate-limit",
      dueAt: new Date(waiting.notBefore).toISOString(),
    });
    await h.engine.runner.cancelRun(run.id);
  });

  it("is told apart from a retry's backoff in the run's view", async () => {
    const h = await start([
      mockModel("wobbly", { "1": "failures: 1, response: 1" }),
      workflow(
        "retried",
        "    a: { type: model, model: wobbly, input: {}, retry: { maxAttempts: 2, delay: 1m } }\n",
      ),
    ]);
    const run = await h.engine.startRun({ workflow: "retried", input: {} });
    const [retrying] = await executionsWhen(
      h,
      run.id,
      (all) => all[0]?.error !== null && all[0]?.status === "queued",
    );
    const view = await h.engine.runJson(run.id);
    expect(view?.nodes.a).toMatchObject({
      status: "queued",
      attempts: 1,
      waitingFor: "retry",
      dueAt: new Date((retrying as ExecutionRecord).notBefore).toISOString(),
    });
    await h.engine.runner.cancelRun(run.id);
  });

  it("paces concurrent calls one slot apart, and waits are not attempts", async () => {
    const h = await start([
      openAiModel("paced", "  rateLimit: { requestsPerMinute: 600 }\n"),
      ONE_CALL("paced"),
    ]);
    const started = Date.now();
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => h.run("calls-paced", { text: `n${i}` })),
    );
    for (const run of runs) {
      expect(run.status).toBe("succeeded");
      expect(run.nodes.ask?.attempts).toBe(1);
    }
    const at = arrivals();
    expect(at).toHaveLength(8);
    expectPaced(at, started, 100);
  });

  it("makes a call wait while the tokens of the calls before it are paid off", async () => {
    // 6,000 tokens a minute is 10 ms a token; each answer uses 17 tokens (170 ms).
    const h = await start([
      openAiModel("thrifty", "  rateLimit: { tokensPerMinute: 6000 }\n"),
      workflow(
        "chain",
        '    a: { type: model, model: thrifty, input: { prompt: "a" } }\n' +
          '    b: { type: model, model: thrifty, needs: [a], input: { prompt: "b" } }\n' +
          '    c: { type: model, model: thrifty, needs: [b], input: { prompt: "c" } }\n',
      ),
    ]);
    const run = await h.run("chain");
    expect(run.status).toBe("succeeded");
    expect(run.usage.totalTokens).toBe(51);
    const [a, b, c] = arrivals() as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(170 - 15);
    expect(c - b).toBeGreaterThanOrEqual(170 - 15);
  });
});

describe("a model's concurrency", () => {
  it("bounds the calls in flight from one process", async () => {
    server.respond({ ...chatReply("slow"), delayMs: 100 });
    const h = await start([openAiModel("narrow", "  concurrency: 2\n"), ONE_CALL("narrow")]);
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h.run("calls-narrow", { text: `n${i}` })),
    );
    expect(runs.map((run) => run.status)).toEqual(Array(6).fill("succeeded"));
    expect(server.maxInFlight).toBe(2);
  });

  it("of a fallback model bounds the calls to it, not the node's own model's", async () => {
    server.respond({ ...chatReply("slow"), delayMs: 100 });
    const h = await start([
      mockModel("refuses", { "1": "error: no" }),
      openAiModel("narrow", "  concurrency: 1\n"),
      ONE_CALL("refuses", ", fallback: [narrow]"),
    ]);
    const runs = await Promise.all(
      Array.from({ length: 4 }, (_, i) => h.run("calls-refuses", { text: `n${i}` })),
    );
    expect(runs.map((run) => run.nodes.ask?.model)).toEqual(Array(4).fill("narrow@1"));
    expect(server.maxInFlight).toBe(1);
  });
});

describe("a model's circuit breaker", () => {
  const BREAKER = "  circuitBreaker: { minCalls: 2, failureRatio: 0.5, openFor: 1s }\n";
  const FLAKY = "/flaky/v1";

  /** The flaky model's endpoint fails (500) while `failing.now`; the steady one always answers. */
  function serve(failing: { now: boolean }): void {
    server.respond((request) =>
      request.path.startsWith("/flaky") && failing.now
        ? errorReply(500, "the model server is down")
        : chatReply(request.path.startsWith("/flaky") ? "from flaky" : "from steady"),
    );
  }
  const flakyCalls = () => server.requests.filter((r) => r.path.startsWith(FLAKY)).length;

  it("opens after the failure ratio, sends calls straight to the fallback, and closes after a good probe", async () => {
    const failing = { now: true };
    serve(failing);
    const h = await start([
      openAiModel("flaky", BREAKER, FLAKY),
      openAiModel("steady", ""),
      ONE_CALL("flaky", ", fallback: [steady], retry: { maxAttempts: 1 }"),
    ]);
    for (let i = 0; i < 2; i++) {
      const run = await h.run("calls-flaky", { text: `t${i}` });
      expect(run.nodes.ask).toMatchObject({
        status: "succeeded",
        model: "steady@1",
        output: { text: "from steady" },
      });
    }
    expect(flakyCalls()).toBe(2);

    // Open: the next call goes to the fallback without a request to the flaky server.
    const third = await h.run("calls-flaky", { text: "t2" });
    expect(third.nodes.ask).toMatchObject({ status: "succeeded", model: "steady@1", attempts: 2 });
    expect(flakyCalls()).toBe(2);

    // After openFor, one probe; the server is well again, so the breaker closes and calls flow.
    failing.now = false;
    await sleep(1_100);
    for (let i = 0; i < 2; i++) {
      const run = await h.run("calls-flaky", { text: `p${i}` });
      expect(run.nodes.ask).toMatchObject({
        status: "succeeded",
        model: "flaky@1",
        output: { text: "from flaky" },
      });
    }
    expect(flakyCalls()).toBe(4);
  });

  it("without a fallback, fails fast with the breaker's reason instead of calling the model", async () => {
    serve({ now: true });
    const h = await start([
      openAiModel("flaky", BREAKER, FLAKY),
      ONE_CALL("flaky", ", retry: { maxAttempts: 1 }"),
    ]);
    for (let i = 0; i < 2; i++) {
      expect((await h.run("calls-flaky", { text: `t${i}` })).nodes.ask?.status).toBe("failed");
    }
    const run = await h.run("calls-flaky", { text: "t2" });
    expect(run.nodes.ask?.error).toMatchObject({ code: "circuit-open" });
    expect(run.nodes.ask?.error?.message).toContain("circuit breaker of flaky@1 is open");
    expect(flakyCalls()).toBe(2);
  });
});
