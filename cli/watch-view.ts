/**
 * What `pflow runs watch` shows: the state of a run folded from the run as
 * GET /v1/runs/{id} answers it and then its events, and that state drawn as
 * lines of text. Pure, so it is tested without a terminal.
 */
export interface NodeView {
  status: string;
  attempts: number;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  /** A map node: each item's status, by index. */
  items?: Map<number, string>;
}

export interface WatchState {
  readonly id: string;
  workflow: string;
  status: string;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  readonly nodes: Map<string, NodeView>;
}

interface RunJson {
  id: string;
  workflow: { name: string; version: number };
  status: string;
  error: { code: string; message: string } | null;
  startedAt: string | null;
  finishedAt: string | null;
  nodes: Record<
    string,
    {
      status: string;
      attempts: number;
      startedAt?: string | null;
      finishedAt?: string | null;
      error?: { code: string; message: string } | null;
    }
  >;
}

export const TERMINAL_RUN_STATUSES: ReadonlySet<string> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "timed_out",
]);
const FINISHED_NODE: ReadonlySet<string> = new Set(["succeeded", "failed", "skipped", "cancelled"]);

const time = (iso: string | null | undefined) => (iso ? Date.parse(iso) : undefined);

export function stateOf(run: RunJson): WatchState {
  const nodes = new Map<string, NodeView>();
  for (const [id, node] of Object.entries(run.nodes)) {
    const view: NodeView = { status: node.status, attempts: node.attempts };
    const started = time(node.startedAt);
    const finished = time(node.finishedAt);
    if (started !== undefined) view.startedAt = started;
    if (finished !== undefined) view.finishedAt = finished;
    if (node.error) view.error = `${node.error.code}: ${node.error.message}`;
    nodes.set(id, view);
  }
  const state: WatchState = {
    id: run.id,
    workflow: `${run.workflow.name} v${run.workflow.version}`,
    status: run.status,
    nodes,
  };
  const started = time(run.startedAt);
  const finished = time(run.finishedAt);
  if (started !== undefined) state.startedAt = started;
  if (finished !== undefined) state.finishedAt = finished;
  if (run.error) state.error = `${run.error.code}: ${run.error.message}`;
  return state;
}

export interface RunEvent {
  type: string;
  at?: string;
  nodeId?: string;
  item?: number;
  status?: string;
  attempts?: number;
  error?: { code: string; message: string } | null;
  data?: Record<string, unknown>;
}

/** Folds one event into the state; returns a line saying what changed, for a log, or undefined. */
export function apply(state: WatchState, event: RunEvent): string | undefined {
  const at = time(event.at) ?? Date.now();
  if (event.type.startsWith("run.") && event.status !== undefined) {
    if (event.status === state.status) return undefined;
    state.status = event.status;
    if (event.status === "running") {
      state.startedAt ??= at;
      state.finishedAt = undefined;
    }
    if (TERMINAL_RUN_STATUSES.has(event.status)) state.finishedAt = at;
    const error = event.error ?? (event.data?.error as RunEvent["error"]);
    if (error) state.error = `${error.code}: ${error.message}`;
    return `run ${event.status}${state.error && event.status !== "succeeded" ? ` (${state.error})` : ""}`;
  }
  if (!event.type.startsWith("node.") || event.nodeId === undefined || event.status === undefined)
    return undefined;
  const node = state.nodes.get(event.nodeId) ?? { status: "pending", attempts: 0 };
  state.nodes.set(event.nodeId, node);
  if (event.item !== undefined) {
    // A map's item: counted on its node, whose own events say the node's status.
    node.items ??= new Map();
    node.items.set(event.item, event.status);
    return undefined;
  }
  const changed = node.status !== event.status || node.attempts !== (event.attempts ?? node.attempts);
  node.status = event.status;
  if (event.attempts !== undefined) node.attempts = event.attempts;
  if (event.status === "running") {
    node.startedAt ??= at;
    node.finishedAt = undefined;
  }
  if (FINISHED_NODE.has(event.status)) node.finishedAt = at;
  const error = event.error ?? (event.data?.error as RunEvent["error"]);
  if (error) node.error = `${error.code}: ${error.message}`;
  if (!changed) return undefined;
  const attempt = event.status === "running" && node.attempts > 1 ? ` (attempt ${node.attempts})` : "";
  const why = node.error && event.status === "failed" ? `: ${node.error}` : "";
  return `${event.nodeId} ${event.status}${attempt}${why}`;
}

const SYMBOL: Readonly<Record<string, string>> = {
  pending: "·",
  queued: "○",
  running: "●",
  waiting: "◐",
  succeeded: "✓",
  failed: "✗",
  skipped: "-",
  cancelled: "⊘",
  timed_out: "⌛",
};

/** The whole view, one string per line, as drawn at `now`. */
export function render(state: WatchState, now: number, width = 100): string[] {
  const elapsed = (start?: number, end?: number) =>
    start === undefined ? "" : seconds((end ?? now) - start);
  const head = `run ${state.id}  ${state.workflow}  ${state.status}  ${elapsed(state.startedAt, state.finishedAt)}`;
  const idWidth = Math.min(32, Math.max(4, ...[...state.nodes.keys()].map((id) => id.length)));
  const lines = [clip(head.trimEnd(), width)];
  for (const [id, node] of state.nodes) {
    const attempts = node.attempts > 1 ? `attempt ${node.attempts}` : "";
    const done = node.items
      ? [...node.items.values()].filter((status) => FINISHED_NODE.has(status)).length
      : 0;
    const items = node.items ? `items ${done}/${node.items.size}` : "";
    const parts = [
      `  ${SYMBOL[node.status] ?? "?"} ${id.padEnd(idWidth)}`,
      node.status.padEnd(9),
      elapsed(node.startedAt, node.finishedAt).padStart(7),
      items,
      attempts,
      node.status === "failed" && node.error ? node.error : "",
    ];
    lines.push(clip(parts.filter(Boolean).join("  "), width));
  }
  if (state.error && TERMINAL_RUN_STATUSES.has(state.status) && state.status !== "succeeded")
    lines.push(clip(`error: ${state.error}`, width));
  return lines;
}

function seconds(ms: number): string {
  return ms < 60_000
    ? `${(Math.max(0, ms) / 1000).toFixed(1)}s`
    : `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s`;
}

function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(1, width - 1))}…`;
}
