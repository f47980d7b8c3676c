import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster } from "./cluster.ts";

// One trace for a whole run across processes: `pflow serve --no-workers` starts
// it, a `pflow worker` runs its nodes, the trace context travels in RabbitMQ
// message headers, and both export over OTLP/HTTP to a collector (here a small
// real HTTP server that keeps what it receives).

interface ReceivedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly instance: string;
}

async function collector(): Promise<{ app: FastifyInstance; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const app = Fastify({ bodyLimit: 16 * 1024 * 1024 });
  app.post("/v1/traces", async (request) => {
    const body = request.body as {
      resourceSpans: Array<{
        resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
        scopeSpans: Array<{
          spans: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string }>;
        }>;
      }>;
    };
    for (const resource of body.resourceSpans) {
      const instance =
        resource.resource.attributes.find((attribute) => attribute.key === "service.instance.id")?.value
          .stringValue ?? "";
      for (const scope of resource.scopeSpans)
        for (const span of scope.spans) spans.push({ ...span, instance });
    }
    return {};
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, url: address, spans };
}

const DEFINITIONS = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: traced }
spec:
  nodes:
    a: { type: transform, expr: "1" }
    b: { type: transform, expr: "nodes.a.output + 1" }
    c: { type: transform, expr: "nodes.b.output + 1" }
`;

let cluster: Cluster | undefined;
let received: FastifyInstance | undefined;
afterEach(async () => {
  await cluster?.close();
  await received?.close();
  cluster = undefined;
  received = undefined;
});

describe("tracing across processes", { timeout: 60_000 }, () => {
  it("a run is one trace, started by the API process and continued by the worker through RabbitMQ", async () => {
    const otlp = await collector();
    received = otlp.app;
    cluster = await Cluster.start(DEFINITIONS, {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    await cluster.serve({ workers: false });
    await cluster.worker();
    const runId = await cluster.startRun("traced");
    expect(await cluster.finished(runId)).toBe("succeeded");
    const spans = await cluster.until(
      async () =>
        otlp.spans.filter((span) => span.name.startsWith("pflow.node")).length >= 3 ? otlp.spans : undefined,
      "the spans of the three nodes",
    );
    const start = spans.find((span) => span.name === "pflow.run.start");
    const nodes = ["a", "b", "c"].map((node) => spans.find((span) => span.name === `pflow.node ${node}`));
    expect(start).toBeDefined();
    for (const node of nodes) expect(node?.traceId).toBe(start?.traceId);
    expect(nodes[0]?.parentSpanId).toBe(start?.spanId);
    expect(nodes[1]?.parentSpanId).toBe(nodes[0]?.spanId);
    expect(nodes[2]?.parentSpanId).toBe(nodes[1]?.spanId);
    // Two processes, one trace.
    expect(nodes[0]?.instance).not.toBe(start?.instance);
  });
});
