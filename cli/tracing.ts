import { hostname } from "node:os";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { enableTracing } from "../engine/tracing.ts";

/**
 * Tracing is off unless an OTLP endpoint is configured, with OpenTelemetry's
 * own variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, or `…_TRACES_ENDPOINT`; the
 * exporter reads its headers, protocol and timeouts from the same family, and
 * `OTEL_SERVICE_NAME` names the service, `pflow` by default). Then spans go
 * out in batches over OTLP/HTTP, and the W3C trace context propagates in
 * task messages (engine/tracing.ts). Returns what flushes and stops it.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): () => Promise<void> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return async () => {};
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? "pflow",
      [ATTR_SERVICE_VERSION]: "0.1.0",
      "service.instance.id": `${hostname()}/${process.pid}`,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  enableTracing(true);
  return async () => {
    enableTracing(false);
    await provider.shutdown();
  };
}
