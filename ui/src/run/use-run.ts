import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, seg } from "../api.ts";
import { followRun } from "../sse.ts";
import type { HistoryEvent, NodeStatus, NodeView, Run, RunStatus } from "../types.ts";

/**
 * A run as the run page shows it, kept live: the run (GET /v1/runs/{id}),
 * patched by its server-sent events as they come and read again shortly after
 * (a debounced GET, for outputs, usage and cost); the streamed text of model
 * nodes (node.delta); and the run's history (GET /v1/runs/{id}/history, all
 * rounds) extended by the events that carry a sequence number. `history` is
 * null when the server has no history API.
 */
export interface Draft {
  readonly attempts: number;
  readonly text: string;
}

export interface LiveRun {
  readonly run: Run | undefined;
  readonly error: Error | undefined;
  readonly drafts: Readonly<Record<string, Draft>>;
  readonly history: readonly HistoryEvent[] | null;
  readonly connection: "open" | "retrying" | "closed";
  /** Bumped whenever anything about a node may have changed (the node panel reloads its attempts). */
  readonly version: number;
  readonly refresh: () => void;
  /** Start following again (after a retry: the run goes on in a new round). */
  readonly follow: () => void;
}

const FINISHED: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

export function useRun(id: string): LiveRun {
  const [run, setRun] = useState<Run>();
  const [error, setError] = useState<Error>();
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [history, setHistory] = useState<HistoryEvent[] | null>(null);
  const [connection, setConnection] = useState<LiveRun["connection"]>("closed");
  const [version, setVersion] = useState(0);
  const [followTick, setFollowTick] = useState(0);
  const lastSeq = useRef<string | undefined>(undefined);
  const seen = useRef(new Set<number>());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(() => {
    api<Run>(`/v1/runs/${seg(id)}`).then(
      (next) => {
        setRun(next);
        setError(undefined);
        setVersion((v) => v + 1);
      },
      (e: Error) => setError(e),
    );
  }, [id]);

  const addHistory = useCallback((events: readonly HistoryEvent[]) => {
    const fresh = events.filter((event) => !seen.current.has(event.seq));
    if (fresh.length === 0) return;
    for (const event of fresh) seen.current.add(event.seq);
    setHistory((list) => [...(list ?? []), ...fresh].sort((a, b) => a.seq - b.seq));
  }, []);

  // The history after the last event held, page by page; a server without the history API answers 404.
  const noHistory = useRef(false);
  const loadHistory = useCallback(async () => {
    if (noHistory.current) return;
    try {
      let after = Math.max(0, ...seen.current);
      for (;;) {
        const page = await api<{ items: HistoryEvent[]; next?: string | number | null }>(
          `/v1/runs/${seg(id)}/history?after=${after}&limit=1000`,
        );
        addHistory(page.items);
        const lastItem = page.items.at(-1);
        if (!page.next || !lastItem) break;
        after = lastItem.seq;
      }
      setHistory((list) => list ?? []);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) noHistory.current = true;
      else setError(e as Error);
    }
  }, [id, addHistory]);

  // Events that carry no sequence number (a server whose stream is not yet the history) are read back from it.
  const refreshSoon = useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      load();
      void loadHistory();
    }, 300);
  }, [load, loadHistory]);

  useEffect(() => {
    seen.current = new Set();
    noHistory.current = false;
    lastSeq.current = undefined;
    setRun(undefined);
    setHistory(null);
    setDrafts({});
    load();
    void loadHistory();
  }, [load, loadHistory]);
  useEffect(() => {
    setConnection("open");
    const stop = followRun(
      id,
      {
        onEvent: (type, data, eventId) => {
          if (eventId !== undefined) lastSeq.current = eventId;
          if (type === "node.delta") return setDrafts((all) => withDelta(all, data));
          if (typeof data.seq === "number" && typeof data.type === "string")
            addHistory([data as unknown as HistoryEvent]);
          setRun((current) => (current ? patched(current, type, data) : current));
          if (type === "node.running" || type === "run.retried")
            setDrafts((all) => restartDraft(all, data.nodeId as string | undefined, data.attempts as number));
          setVersion((v) => v + 1);
          refreshSoon();
        },
        onEnd: () => {
          setConnection("closed");
          load();
          void loadHistory();
        },
        onConnection: setConnection,
      },
      lastSeq.current,
    );
    return () => {
      stop();
      if (timer.current !== undefined) clearTimeout(timer.current);
      timer.current = undefined;
    };
  }, [id, followTick]);

  const follow = useCallback(() => {
    setFollowTick((t) => t + 1);
    void loadHistory();
  }, [loadHistory]);
  return { run, error, drafts, history, connection, version, refresh: load, follow };
}

/** The run with one state event applied: what the page shows until the next GET. */
function patched(run: Run, type: string, data: Record<string, unknown>): Run {
  const [scope, status] = type.split(".") as [string, string];
  if (scope === "run") {
    if (status === "retried" || status === "created") return run;
    return {
      ...run,
      status: status as RunStatus,
      ...(typeof data.round === "number" ? { round: data.round } : {}),
    };
  }
  const nodeId = data.nodeId;
  if (scope !== "node" || typeof nodeId !== "string" || (data.item !== undefined && data.item !== null))
    return run;
  if (!["queued", "running", "waiting", "succeeded", "failed", "skipped", "cancelled"].includes(status))
    return run;
  const before: NodeView = run.nodes[nodeId] ?? {
    status: "pending",
    attempts: 0,
    cached: false,
    startedAt: null,
    finishedAt: null,
    output: null,
    error: null,
  };
  const node: NodeView = {
    ...before,
    status: status as NodeStatus,
    ...(typeof data.attempts === "number" ? { attempts: data.attempts } : {}),
    ...(status === "running" && !before.startedAt ? { startedAt: String(data.at) } : {}),
    ...("output" in data ? { output: data.output } : {}),
    ...(data.error ? { error: data.error as NodeView["error"] } : {}),
  };
  return {
    ...run,
    status: run.status === "pending" ? "running" : run.status,
    nodes: { ...run.nodes, [nodeId]: node },
  };
}

function draftKey(nodeId: string, item: unknown): string {
  return typeof item === "number" ? `${nodeId}#${item}` : nodeId;
}

function withDelta(all: Record<string, Draft>, data: Record<string, unknown>): Record<string, Draft> {
  if (typeof data.nodeId !== "string" || typeof data.text !== "string") return all;
  const key = draftKey(data.nodeId, data.item);
  const attempts = typeof data.attempts === "number" ? data.attempts : 0;
  const before = all[key];
  // A delta of a later attempt starts the text over (docs/api.md, node.delta).
  const text = before && before.attempts === attempts ? before.text + data.text : data.text;
  return { ...all, [key]: { attempts, text } };
}

function restartDraft(
  all: Record<string, Draft>,
  nodeId: string | undefined,
  attempts: number,
): Record<string, Draft> {
  if (nodeId === undefined || !(nodeId in all)) return all;
  const before = all[nodeId];
  if (before && before.attempts === attempts) return all;
  const { [nodeId]: _dropped, ...rest } = all;
  return rest;
}

export function isFinished(status: RunStatus): boolean {
  return FINISHED.has(status);
}
