import type { Broker } from "../../engine/broker/broker.ts";
import type { Store } from "../../engine/store/store.ts";
import type { RoutePlugin } from "../app.ts";
import { BACKENDS, type Backend, type Metrics } from "../metrics.ts";
import { PROBLEM_BASE, Problem } from "../problems.ts";

/**
 * Operations endpoints, public so that probes and Prometheus need no key:
 * - /healthz: liveness. The process answers; it checks nothing else, so a slow
 *   database never gets a healthy process restarted.
 * - /readyz: readiness. The store and the broker answer a ping within 2 s; a
 *   process that cannot reach them is taken out of the load balancer, not killed.
 * - /metrics: the Prometheus text format of the process's registry. Each scrape
 *   pings the store and the broker as /readyz does (`pflow_backend_up`) and
 *   reads the broker's depth (`pflow_queue_depth`).
 */
const CHECK_TIMEOUT_MS = 2_000;
const tags = ["operations"];

const problemSchema = {
  type: "object",
  description: `RFC 9457 problem details; \`type\` is ${PROBLEM_BASE}<type>`,
  properties: {
    type: { type: "string", format: "uri" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    errors: {
      type: "array",
      description: "The checks that failed",
      items: {
        type: "object",
        properties: { check: { type: "string" }, message: { type: "string" } },
        required: ["check", "message"],
      },
    },
  },
  required: ["type", "title", "status", "detail"],
} as const;

export function opsRoutes(metrics: Metrics): RoutePlugin {
  return async (app, deps) => {
    const { store, broker } = deps.engine.services;
    metrics.setQueueDepthSource(() => withTimeout(broker.depth(), CHECK_TIMEOUT_MS, "broker"));
    metrics.setQueueOldestSource((now) => withTimeout(store.oldestDueQueued(now), CHECK_TIMEOUT_MS, "store"));
    metrics.setWorkerActivitySource(() => deps.engine.activity);
    metrics.setBackendsSource(async () => {
      const failed = new Set((await checkBackends(store, broker)).map((f) => f.check));
      return { store: !failed.has("store"), broker: !failed.has("broker") };
    });

    app.get(
      "/healthz",
      {
        config: { scope: "public" },
        schema: {
          operationId: "getHealth",
          summary: "Liveness: the process answers",
          description: "Checks nothing beyond the process itself; use /readyz for the backing services.",
          tags,
          security: [],
          response: {
            200: {
              description: "The process is alive",
              type: "object",
              properties: { status: { type: "string", const: "ok" } },
              required: ["status"],
            },
          },
        },
      },
      async () => ({ status: "ok" }),
    );

    app.get(
      "/readyz",
      {
        config: { scope: "public" },
        schema: {
          operationId: "getReadiness",
          summary: "Readiness: the store and the broker answer",
          description: `Pings the store and the broker, each with a ${CHECK_TIMEOUT_MS / 1000} s timeout.`,
          tags,
          security: [],
          response: {
            200: {
              description: "Both backing services answered",
              type: "object",
              properties: {
                status: { type: "string", const: "ready" },
                checks: {
                  type: "object",
                  properties: {
                    store: { type: "string", const: "ok" },
                    broker: { type: "string", const: "ok" },
                  },
                  required: ["store", "broker"],
                },
              },
              required: ["status", "checks"],
            },
            503: {
              description: "A backing service did not answer (problem type `unavailable`)",
              content: { "application/problem+json": { schema: problemSchema } },
            },
          },
        },
      },
      async () => {
        const failed = await checkBackends(store, broker);
        if (failed.length > 0) {
          const detail = failed.map((f) => `${f.check}: ${f.message}`).join("; ");
          throw new Problem("unavailable", `not ready: ${detail}`, { errors: failed });
        }
        return { status: "ready", checks: { store: "ok", broker: "ok" } };
      },
    );

    app.get(
      "/metrics",
      {
        config: { scope: "public" },
        schema: {
          operationId: "getMetrics",
          summary: "Prometheus metrics",
          description:
            "The process's metrics (runs, nodes, cache, retries, dead letters, tokens, queue depth and age, backends up, and Node's own) in the Prometheus text format; each scrape pings the store and the broker.",
          tags,
          security: [],
          response: {
            200: {
              description: "Prometheus text exposition format",
              content: { "text/plain": { schema: { type: "string" } } },
            },
          },
        },
      },
      async (_request, reply) => {
        const text = await metrics.registry.metrics();
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  };
}

/**
 * Pings the store and the broker at once, each with a timeout: the checks that
 * failed, and why. /readyz answers from it, and every scrape sets
 * `pflow_backend_up` from it.
 */
async function checkBackends(
  store: Pick<Store, "ping">,
  broker: Pick<Broker, "ping">,
): Promise<{ check: Backend; message: string }[]> {
  const pings: Record<Backend, () => Promise<void>> = {
    store: () => store.ping(),
    broker: () => broker.ping(),
  };
  const results = await Promise.allSettled(
    // A ping that throws instead of rejecting counts as failed too.
    BACKENDS.map((check) => withTimeout(Promise.resolve().then(pings[check]), CHECK_TIMEOUT_MS, check)),
  );
  return BACKENDS.flatMap((check, i) => {
    const result = results[i];
    return result?.status === "rejected" ? [{ check, message: messageOf(result.reason) }] : [];
  });
}

/** Rejects if `promise` has not settled in `ms`: a hung connection must not hang a probe. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function messageOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
