import { afterEach, describe, expect, it } from "vitest";
import type { NodeFinished } from "../../engine/observer.ts";
import { createMetrics } from "../../server/metrics.ts";
import { opsRoutes } from "../../server/routes/ops.ts";
import { type TestServer, testServer } from "./harness.ts";
import { METRICS_WORKFLOW, SHAKY_MODEL, writerModel } from "./metrics-fixtures.ts";

// The engine's metrics as Prometheus scrapes them: real runs on a real server,
// read back from GET /metrics.

const WORKFLOW = METRICS_WORKFLOW;
const WRITER = writerModel(false);
const SHAKY = SHAKY_MODEL;

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parse(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
      );
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

/** The value of the one sample of `name` whose labels include `labels`. */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) {
    throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  }
  return (found[0] as Sample).value;
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("engine metrics after real runs", () => {
  it("counts waits for a rate limit and shows each circuit breaker's state", async () => {
    const metrics = createMetrics();
    server = await testServer({
      definitions: [
        `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: paced }\nspec:\n  rateLimit: { requestsPerMinute: 120 }\n  versions:\n    "1": { provider: mock, response: 1 }\n`,
        `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: broken }\nspec:\n  circuitBreaker: { minCalls: 1 }\n  versions:\n    "1": { provider: mock, error: down }\n`,
        `apiVersion: pflow/v1\nkind: Workflow\nmetadata: { name: limits }\nspec:\n  failFast: false\n  nodes:\n    a: { type: model, model: paced, input: {} }\n    b: { type: model, model: paced, input: {} }\n    c: { type: model, model: broken, input: {}, onError: continue }\n`,
      ],
      routes: [opsRoutes(metrics)],
      observer: metrics.observer,
    });
    const run = await server.engine.startRun({ workflow: "limits", input: {} });
    expect((await server.engine.waitForRun(run.id, 10_000))?.status).toBe("succeeded");

    const samples = parse((await server.request("GET", "/metrics", { key: null })).text);
    // Two calls at 120 a minute: the second waited its 500 ms slot.
    expect(value(samples, "pflow_rate_limit_waits_total", { model: "paced" })).toBe(1);
    expect(value(samples, "pflow_rate_limit_wait_seconds_total", { model: "paced" })).toBeGreaterThan(0.4);
    expect(value(samples, "pflow_circuit_state", { model: "broken@1" })).toBe(2);
    expect(value(samples, "pflow_circuit_opened_total", { model: "broken@1" })).toBe(1);
  });

  it("counts runs, nodes, cache hits and misses, retries and tokens, labelled by workflow and model", async () => {
    const metrics = createMetrics();
    server = await testServer({
      definitions: [WORKFLOW, WRITER, SHAKY],
      routes: [opsRoutes(metrics)],
      observer: metrics.observer,
    });
    // One after the other, so that the second run finds the first one's answer in the cache.
    for (let i = 0; i < 2; i++) {
      const run = await server.engine.startRun({ workflow: "describe-listing", input: { text: "Leith" } });
      const finished = await server.engine.waitForRun(run.id, 10_000);
      expect(finished?.status).toBe("succeeded");
    }

    const response = await server.request("GET", "/metrics", { key: null });
    expect(response.status).toBe(200);
    expect(response.text).toMatch(/^pflow_runs_started_total\{workflow="describe-listing"\} 2$/m);
    const samples = parse(response.text);

    const run = { workflow: "describe-listing", status: "succeeded" };
    expect(value(samples, "pflow_runs_finished_total", run)).toBe(2);
    expect(value(samples, "pflow_run_duration_seconds_count", run)).toBe(2);

    const draft = { type: "model", model: "writer@1", status: "succeeded" };
    expect(value(samples, "pflow_node_duration_seconds_count", draft)).toBe(2);
    expect(value(samples, "pflow_node_duration_seconds_bucket", { ...draft, le: "+Inf" })).toBe(2);
    // Buckets for AI work: from a cache hit (5 ms) to a slow model answer (2 min).
    const buckets = samples
      .filter((s) => s.name === "pflow_node_duration_seconds_bucket" && s.labels.model === "writer@1")
      .map((s) => s.labels.le);
    expect(buckets[0]).toBe("0.005");
    expect(buckets.slice(-2)).toEqual(["120", "+Inf"]);
    const shout = { type: "transform", model: "", status: "succeeded" };
    expect(value(samples, "pflow_node_duration_seconds_count", shout)).toBe(2);

    expect(value(samples, "pflow_node_executions_total", { type: "model", status: "succeeded" })).toBe(4);
    expect(value(samples, "pflow_node_executions_total", { type: "transform", status: "succeeded" })).toBe(2);
    expect(value(samples, "pflow_cache_hits_total", { type: "model" })).toBe(1);
    expect(value(samples, "pflow_cache_misses_total", { type: "model" })).toBe(1);
    expect(value(samples, "pflow_retries_total", { type: "model", code: "mock-failure" })).toBe(2);

    // The mock estimates usage from sizes; the cache hit of the second run used none.
    const input = value(samples, "pflow_tokens_total", { model: "writer@1", kind: "input" });
    const output = value(samples, "pflow_tokens_total", { model: "writer@1", kind: "output" });
    expect(input).toBeGreaterThan(0);
    expect(output).toBeGreaterThan(0);
    const runs = await server.engine.services.store.listRuns({ workflow: "describe-listing", limit: 2 });
    const draftTokens = await Promise.all(
      runs.items.map(async (r) => (await server?.engine.services.store.getExecution(`${r.id}/draft`))?.usage),
    );
    expect(input).toBe(draftTokens.reduce((sum, usage) => sum + (usage?.inputTokens ?? 0), 0));

    expect(value(samples, "pflow_queue_depth")).toBe(0);
    expect(value(samples, "pflow_dead_letters_total")).toBe(0);
    // No label anywhere carries a run id.
    for (const r of runs.items) expect(response.text).not.toContain(r.id);
  });
});

describe("the metrics observer", () => {
  it("adds up cost by workflow, model and currency", async () => {
    const metrics = createMetrics();
    const finished = (amount: number) =>
      ({
        run: { workflow: { name: "priced", version: 1 } },
        nodeType: "model",
        cacheable: false,
        durationMs: 5,
        outcome: { status: "succeeded", model: "writer@1", cost: { amount, currency: "USD" } },
      }) as unknown as NodeFinished;
    metrics.observer.nodeFinished(finished(0.25));
    metrics.observer.nodeFinished(finished(0.5));
    const samples = parse(await metrics.registry.metrics());
    const cost = samples.find((s) => s.name === "pflow_cost_total");
    expect(cost).toEqual({
      name: "pflow_cost_total",
      labels: { workflow: "priced", model: "writer@1", currency: "USD" },
      value: 0.75,
    });
  });

  it("counts dead letters", async () => {
    const metrics = createMetrics();
    metrics.observer.deadLettered({ key: "r/n", runId: "r", nodeId: "n", route: "default" });
    const samples = parse(await metrics.registry.metrics());
    expect(value(samples, "pflow_dead_letters_total")).toBe(1);
  });

  it("never throws, whatever it is given", () => {
    const { observer } = createMetrics();
    const broken = {} as NodeFinished;
    expect(() => observer.nodeFinished(broken)).not.toThrow();
    expect(() => observer.runStarted(broken.run)).not.toThrow();
    expect(() => observer.runFinished(broken.run)).not.toThrow();
  });

  it("reports the queue depth as NaN when its source fails, without failing the scrape", async () => {
    const metrics = createMetrics();
    metrics.setQueueDepthSource(async () => {
      throw new Error("broker gone");
    });
    const samples = parse(await metrics.registry.metrics());
    expect(value(samples, "pflow_queue_depth")).toBeNaN();
    metrics.setQueueDepthSource(async () => 7);
    expect(value(parse(await metrics.registry.metrics()), "pflow_queue_depth")).toBe(7);
  });
});
