import { context, propagation, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { enableTracing } from "../../engine/tracing.ts";
import { type Harness, harness, workflow } from "./harness.ts";

// With an OpenTelemetry SDK registered, a run is one trace: the start span,
// then a span per node execution, each the child of the span that made it ready.

let h: Harness | undefined;
let exporter: InMemorySpanExporter;
let provider: NodeTracerProvider;

// Registered once, as a process does (the engine's tracer is taken at load).
beforeAll(() => {
  exporter = new InMemorySpanExporter();
  provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  enableTracing(true);
});

afterEach(async () => {
  await h?.close();
  h = undefined;
  exporter.reset();
});

afterAll(async () => {
  enableTracing(false);
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const definitions = [
  workflow(
    "traced",
    `    a: { type: transform, expr: "1" }
    b: { type: transform, expr: "nodes.a.output + 1" }
    c: { type: transform, expr: "nodes.a.output + 2" }
    d: { type: transform, expr: "nodes.b.output + nodes.c.output" }
`,
  ),
];

function byName(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((each) => each.name === name);
  if (!span) throw new Error(`no span ${name} in ${spans.map((each) => each.name).join(", ")}`);
  return span;
}

describe("tracing", () => {
  it("makes a run one trace: the start, then each node as the child of the node that made it ready", async () => {
    h = await harness(definitions);
    const run = await h.run("traced", {});
    expect(run.status).toBe("succeeded");
    const spans = exporter.getFinishedSpans();
    const start = byName(spans, "pflow.run.start");
    expect(start.attributes).toMatchObject({ "pflow.workflow": "traced", "pflow.run.id": run.id });
    const [a, b, c, d] = ["a", "b", "c", "d"].map((node) => byName(spans, `pflow.node ${node}`)) as [
      ReadableSpan,
      ReadableSpan,
      ReadableSpan,
      ReadableSpan,
    ];
    for (const span of [a, b, c, d]) expect(span.spanContext().traceId).toBe(start.spanContext().traceId);
    expect(a.parentSpanContext?.spanId).toBe(start.spanContext().spanId);
    expect(b.parentSpanContext?.spanId).toBe(a.spanContext().spanId);
    expect(c.parentSpanContext?.spanId).toBe(a.spanContext().spanId);
    // The join is the child of whichever of its dependencies finished last.
    expect([b.spanContext().spanId, c.spanContext().spanId]).toContain(d.parentSpanContext?.spanId);
    expect(d.attributes).toMatchObject({
      "pflow.run.id": run.id,
      "pflow.node.id": "d",
      "pflow.node.type": "transform",
      "pflow.node.status": "succeeded",
    });
  });

  it("two runs are two traces", async () => {
    h = await harness(definitions);
    await h.run("traced", {});
    await h.run("traced", {});
    const starts = exporter.getFinishedSpans().filter((span) => span.name === "pflow.run.start");
    expect(new Set(starts.map((span) => span.spanContext().traceId)).size).toBe(2);
  });
});
