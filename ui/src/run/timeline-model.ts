import type { HistoryEvent, Run } from "../types.ts";

/**
 * The Gantt chart's data: one row per node (and map item), one bar per
 * attempt across every round, from the run's history; or, from a server
 * without history, one bar per node from its start to its end in the current
 * round. Times are epoch ms.
 */
export interface Bar {
  readonly round: number;
  readonly attempt: number;
  readonly start: number;
  /** null: still running. */
  readonly end: number | null;
  readonly outcome: "running" | "succeeded" | "failed" | "cached" | "cancelled" | "skipped";
  readonly detail: string;
}
export interface Row {
  readonly key: string;
  readonly nodeId: string;
  readonly item?: number;
  readonly bars: readonly Bar[];
}
export interface Timeline {
  readonly rows: readonly Row[];
  /** When each round after the first began. */
  readonly rounds: readonly { round: number; at: number }[];
  readonly start: number;
  readonly end: number;
}

export function timelineOf(
  run: Run,
  history: readonly HistoryEvent[] | null,
  order: readonly string[],
  now: number,
): Timeline {
  const rows = history && history.length > 0 ? fromHistory(history) : fromRun(run);
  const rank = new Map(order.map((id, i) => [id, i]));
  const sorted = [...rows.values()].sort(
    (a, b) => (rank.get(a.nodeId) ?? 1e9) - (rank.get(b.nodeId) ?? 1e9) || (a.item ?? -1) - (b.item ?? -1),
  );
  const rounds: { round: number; at: number }[] = [];
  for (const event of history ?? [])
    if (event.type === "run.retried") rounds.push({ round: event.round, at: Date.parse(event.at) });
  const starts = sorted.flatMap((row) => row.bars.map((bar) => bar.start));
  const ends = sorted.flatMap((row) => row.bars.map((bar) => bar.end ?? now));
  const start = Math.min(Date.parse(run.startedAt ?? run.createdAt), ...starts);
  const end = Math.max(start + 1, run.finishedAt ? Date.parse(run.finishedAt) : now, ...ends);
  return { rows: sorted, rounds, start, end };
}

function fromHistory(history: readonly HistoryEvent[]): Map<string, Row> {
  const rows = new Map<string, { key: string; nodeId: string; item?: number; bars: Bar[] }>();
  const open = new Map<string, { rowKey: string; round: number; attempt: number; start: number }>();
  const rowOf = (event: HistoryEvent) => {
    const nodeId = event.nodeId as string;
    const key = event.item === undefined || event.item === null ? nodeId : `${nodeId}#${event.item}`;
    let row = rows.get(key);
    if (!row) {
      row = { key, nodeId, ...(typeof event.item === "number" ? { item: event.item } : {}), bars: [] };
      rows.set(key, row);
    }
    return row;
  };
  for (const event of history) {
    if (!event.nodeId) continue;
    const row = rowOf(event);
    const at = Date.parse(event.at);
    const attemptKey = `${row.key}/${event.round}/${event.attempt ?? 0}`;
    switch (event.type) {
      case "attempt.started":
        open.set(attemptKey, { rowKey: row.key, round: event.round, attempt: event.attempt ?? 0, start: at });
        break;
      case "attempt.succeeded":
      case "attempt.failed": {
        const started = open.get(attemptKey);
        open.delete(attemptKey);
        const error = event.data.error as { code?: string; message?: string } | undefined;
        row.bars.push({
          round: event.round,
          attempt: event.attempt ?? 0,
          start: started?.start ?? at,
          end: at,
          outcome: event.type === "attempt.succeeded" ? "succeeded" : "failed",
          detail: error ? `${error.code}: ${error.message}` : "",
        });
        break;
      }
      case "attempt.cache_hit":
        row.bars.push({
          round: event.round,
          attempt: event.attempt ?? 0,
          start: at,
          end: at,
          outcome: "cached",
          detail: "cache hit",
        });
        break;
      case "node.skipped":
        row.bars.push({
          round: event.round,
          attempt: 0,
          start: at,
          end: at,
          outcome: "skipped",
          detail: String(event.data.reason ?? ""),
        });
        break;
      case "node.cancelled":
        for (const [key, started] of open) {
          if (!key.startsWith(`${row.key}/`)) continue;
          open.delete(key);
          row.bars.push({
            round: started.round,
            attempt: started.attempt,
            start: started.start,
            end: at,
            outcome: "cancelled",
            detail: "",
          });
        }
        break;
    }
  }
  for (const started of open.values()) {
    rows.get(started.rowKey)?.bars.push({
      round: started.round,
      attempt: started.attempt,
      start: started.start,
      end: null,
      outcome: "running",
      detail: "",
    });
  }
  return rows;
}

function fromRun(run: Run): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const [nodeId, node] of Object.entries(run.nodes)) {
    if (!node.startedAt) continue;
    const outcome: Bar["outcome"] =
      node.status === "succeeded"
        ? node.cached
          ? "cached"
          : "succeeded"
        : node.status === "failed" || node.status === "cancelled" || node.status === "skipped"
          ? node.status
          : "running";
    rows.set(nodeId, {
      key: nodeId,
      nodeId,
      bars: [
        {
          round: run.round ?? 1,
          attempt: node.attempts,
          start: Date.parse(node.startedAt),
          end: node.finishedAt ? Date.parse(node.finishedAt) : null,
          outcome,
          detail: node.error ? `${node.error.code}: ${node.error.message}` : "",
        },
      ],
    });
  }
  return rows;
}
