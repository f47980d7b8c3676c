import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

/**
 * OpenTelemetry spans for runs and node executions, through the OpenTelemetry
 * API only. Off until the process registers an SDK and says so
 * (enableTracing, from cli/tracing.ts when an OTLP endpoint is configured):
 * until then every call here returns at once, allocating nothing, so the
 * engine's hot path pays nothing for tracing it does not use.
 *
 * One trace shows a whole run across processes: starting a run opens a span,
 * every task dispatched while a span is active carries its W3C `traceparent`
 * (Task.trace; RabbitMQ message headers), and the worker that runs the task
 * opens the node's span as its child, so a node's dependents are children of
 * the node that made them ready.
 */
const tracer = trace.getTracer("pflow");
let enabled = false;

/** Called once an SDK is registered (or, in tests, unregistered). */
export function enableTracing(on: boolean): void {
  enabled = on;
}

/** The active span's `traceparent`, for a task; undefined when there is none (tracing off). */
export function activeTraceparent(): string | undefined {
  if (!enabled) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The context a task's `traceparent` names, to continue its trace; the root context without one. */
export function contextOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/**
 * Runs `work` in a new active span (a child of `parent`, else of the active
 * one), ended after it. `options` is called only when tracing is on.
 */
export function inSpan<T>(
  name: string,
  options: () => { attributes: Attributes; kind?: SpanKind; parent?: Context },
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!enabled) return work(undefined);
  const { attributes, kind, parent } = options();
  return tracer.startActiveSpan(
    name,
    { attributes, kind: kind ?? SpanKind.INTERNAL },
    parent ?? context.active(),
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Adds what became known along the way (a node's outcome) to the active span. */
export function annotateActiveSpan(attributes: () => Attributes): void {
  if (enabled) trace.getActiveSpan()?.setAttributes(attributes());
}

export { SpanKind };
