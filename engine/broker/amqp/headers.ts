import type { Task } from "../broker.ts";

/**
 * What a message carries besides its task, in AMQP headers:
 * - `x-delivery-count`: set by quorum queues, how often this message was
 *   returned (nacked, or its consumer died holding it).
 * - `pflow-deliveries`: deliveries before this message was (re)published, when
 *   a nack with a delay moved the task through a delay queue, where the
 *   server's own count starts again.
 * - `pflow-reason`: why a task was dead-lettered by a process (the handler's
 *   error); the server's own dead-lettering leaves `x-first-death-reason`.
 */
type Headers = Record<string, unknown> | undefined;

export const PRIOR_DELIVERIES = "pflow-deliveries";
/** W3C trace context, under the header name the W3C and OpenTelemetry's AMQP conventions use. */
export const TRACEPARENT = "traceparent";
export const DEAD_LETTER_REASON = "pflow-reason";

/** This delivery's number, counting every earlier one, delays included (1 the first time). */
export function deliveriesOf(headers: Headers): number {
  return 1 + count(headers?.["x-delivery-count"]) + count(headers?.[PRIOR_DELIVERIES]);
}

/**
 * Why and after how many deliveries a message in the dead-letter queue died.
 * `maxDeliveries` is the task queues' limit: when the server dead-letters a
 * message for reaching it, it resets `x-delivery-count`, so the count is the limit.
 */
export function deathOf(headers: Headers, maxDeliveries: number): { reason: string; deliveries: number } {
  const reason = headers?.[DEAD_LETTER_REASON];
  if (typeof reason === "string") return { reason, deliveries: count(headers?.[PRIOR_DELIVERIES]) };
  const cause = String(headers?.["x-first-death-reason"] ?? "unknown");
  const deliveries =
    count(headers?.[PRIOR_DELIVERIES]) +
    (cause === "delivery_limit" ? maxDeliveries : count(headers?.["x-delivery-count"]));
  return {
    reason:
      cause === "delivery_limit"
        ? "the delivery limit was reached: each worker that took it died or disconnected before handling it"
        : `dead-lettered by RabbitMQ (${cause})`,
    deliveries,
  };
}

export function encodeTask(task: Task): Buffer {
  return Buffer.from(JSON.stringify([task.key, task.runId, task.nodeId, task.route]));
}

/** The task in a message, with its trace context from the headers. */
export function decodeTask(body: Buffer, headers?: Headers): Task {
  const value: unknown = JSON.parse(body.toString("utf8"));
  if (!Array.isArray(value) || value.length !== 4 || !value.every((each) => typeof each === "string"))
    throw new Error("not a pflow task message");
  const [key, runId, nodeId, route] = value as [string, string, string, string];
  const trace = headers?.[TRACEPARENT];
  return typeof trace === "string" ? { key, runId, nodeId, route, trace } : { key, runId, nodeId, route };
}

/** The headers a task's message carries besides the publisher's own. */
export function taskHeaders(task: Task): Record<string, unknown> {
  return task.trace ? { [TRACEPARENT]: task.trace } : {};
}

function count(value: unknown): number {
  const n = typeof value === "bigint" ? Number(value) : Number(value ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
