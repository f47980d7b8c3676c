import type { HistoryEvent } from "./events.ts";

/**
 * The attempts of one execution (a node, or a map item), read from its
 * history: each attempt.started opens one, and its end (attempt.succeeded or
 * attempt.failed, or the node's own end when it was skipped or cancelled
 * while running) closes it. A claim handed back to wait for a rate limit
 * (attempt.rate_limited) was no attempt and is left out. Oldest first, every
 * round.
 */
export interface AttemptJson {
  readonly round: number;
  readonly attempt: number;
  readonly item?: number;
  /** running, succeeded, failed, skipped or cancelled. */
  readonly status: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly error?: { readonly code: string; readonly message: string; readonly retryable: boolean };
  readonly model?: string;
  readonly provider?: string;
  readonly usage?: unknown;
  readonly cost?: unknown;
  readonly cached: boolean;
  readonly request?: unknown;
}

interface Open {
  round: number;
  attempt: number;
  item: number | null;
  startedAt: number;
  cached: boolean;
}

const NODE_ENDS: Readonly<Record<string, string>> = {
  "node.succeeded": "succeeded",
  "node.failed": "failed",
  "node.skipped": "skipped",
  "node.cancelled": "cancelled",
};

export function attemptsOf(events: readonly HistoryEvent[]): AttemptJson[] {
  const attempts: AttemptJson[] = [];
  let open: Open | null = null;
  const close = (event: HistoryEvent, status: string, data: Readonly<Record<string, unknown>>) => {
    if (!open) return;
    const { round, attempt, item, startedAt, cached } = open;
    attempts.push({
      round,
      attempt,
      ...(item === null ? {} : { item }),
      status,
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(event.at).toISOString(),
      durationMs: event.at - startedAt,
      ...(isError(data.error) ? { error: data.error } : {}),
      ...(typeof data.model === "string" ? { model: data.model } : {}),
      ...(typeof data.provider === "string" ? { provider: data.provider } : {}),
      ...(data.usage !== undefined ? { usage: data.usage } : {}),
      ...(data.cost !== undefined ? { cost: data.cost } : {}),
      cached: cached || data.cached === true,
      ...(data.request !== undefined ? { request: data.request } : {}),
    });
    open = null;
  };
  for (const event of events) {
    switch (event.type) {
      case "attempt.started":
        open = {
          round: event.round,
          attempt: event.attempt ?? attempts.length + 1,
          item: event.item,
          startedAt: event.at,
          cached: false,
        };
        break;
      case "attempt.cache_hit":
        if (open) open.cached = true;
        break;
      case "attempt.rate_limited":
        open = null;
        break;
      case "attempt.succeeded":
        close(event, "succeeded", event.data);
        break;
      case "attempt.failed":
        close(event, "failed", event.data);
        break;
      default: {
        const status = NODE_ENDS[event.type];
        if (status !== undefined) close(event, status, { error: withRetryable(event.data.error) });
      }
    }
  }
  if (open) {
    const { round, attempt, item, startedAt, cached } = open as Open;
    attempts.push({
      round,
      attempt,
      ...(item === null ? {} : { item }),
      status: "running",
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: null,
      durationMs: null,
      cached,
    });
  }
  return attempts;
}

function isError(value: unknown): value is AttemptJson["error"] & object {
  return typeof value === "object" && value !== null && "code" in value && "message" in value;
}

/** A node's error (a cancellation's) as an attempt's: not worth another attempt. */
function withRetryable(error: unknown): unknown {
  if (!isError(error)) return undefined;
  const { code, message } = error;
  return { code, message, retryable: "retryable" in error ? error.retryable : false };
}
