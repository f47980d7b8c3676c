import { useEffect, useState } from "preact/hooks";
import { ApiError, api, seg } from "../api.ts";
import { Json } from "../components/CodeView.tsx";
import { StatusBadge } from "../components/Status.tsx";
import { between, duration, money, time, tokens } from "../format.ts";
import type { Attempt, NodeView, PlanNode } from "../types.ts";
import { ApprovalForm } from "./ApprovalForm.tsx";
import type { Draft } from "./use-run.ts";

/**
 * One node of a run: its state in the current round (status, model, tokens,
 * cost, cache hit, output, error), the text a running model node streams, and
 * every attempt of every round (GET /v1/runs/{id}/nodes/{nodeId}/attempts):
 * each with its error, model, usage, cost and the request it sent.
 */
export function NodePanel(props: {
  runId: string;
  nodeId: string;
  node: NodeView | undefined;
  plan: PlanNode | undefined;
  draft: Draft | undefined;
  version: number;
  onClose: () => void;
}) {
  const { node, nodeId } = props;
  const [item, setItem] = useState<number | null>(null);
  const attempts = useAttempts(props.runId, nodeId, item, props.version);
  const status = node?.status ?? "pending";
  return (
    <aside class="node-panel" aria-label={`Node ${nodeId}`}>
      <header>
        <h2>
          {nodeId} <StatusBadge status={status} />
        </h2>
        <button type="button" onClick={props.onClose} aria-label="Close the node panel">
          ✕
        </button>
      </header>
      <dl class="facts">
        <dt>type</dt>
        <dd>{props.plan?.type ?? "–"}</dd>
        <dt>model</dt>
        <dd>{node?.model ?? props.plan?.model ?? "–"}</dd>
        <dt>attempts</dt>
        <dd>{node?.attempts ?? 0}</dd>
        <dt>tokens</dt>
        <dd>{tokens(node?.usage)}</dd>
        <dt>cost</dt>
        <dd>{money(node?.cost)}</dd>
        <dt>cache hit</dt>
        <dd>{node?.cached ? "yes" : "no"}</dd>
        <dt>started</dt>
        <dd>{time(node?.startedAt)}</dd>
        <dt>took</dt>
        <dd>{node?.startedAt ? between(node.startedAt, node.finishedAt) : "–"}</dd>
        {node?.status === "waiting" && (
          <>
            <dt>waiting</dt>
            <dd>
              {waitText(node)}
              {node.dueAt ? ` until ${time(node.dueAt)}` : ""}
            </dd>
          </>
        )}
        {node?.status !== "waiting" && node?.dueAt && (
          <>
            <dt>waiting</dt>
            <dd>
              for {node.waitingFor === "rate-limit" ? "a rate-limit slot" : "the retry backoff"} until{" "}
              {time(node.dueAt)}
            </dd>
          </>
        )}
        {node?.childRunId && (
          <>
            <dt>child run</dt>
            <dd>
              <a href={`/ui/runs/${seg(node.childRunId)}`}>{node.childRunId}</a>
            </dd>
          </>
        )}
      </dl>
      {node?.status === "waiting" && node.waitingFor === "approval" && (
        <ApprovalForm runId={props.runId} nodeId={nodeId} description={props.plan?.description ?? null} />
      )}
      {node?.error && (
        <div class="error" role="alert">
          <strong>{node.error.code}</strong>: {node.error.message}
        </div>
      )}
      {status === "running" && props.draft && (
        <>
          <h3>Streaming (attempt {props.draft.attempts})</h3>
          <p class="draft" aria-live="polite" data-testid="draft">
            {props.draft.text}
          </p>
        </>
      )}
      {node?.items !== undefined && node.items > 0 && (
        <label>
          Map item{" "}
          <select
            value={item === null ? "" : String(item)}
            onChange={(event) =>
              setItem(event.currentTarget.value === "" ? null : Number(event.currentTarget.value))
            }
          >
            <option value="">the node</option>
            {Array.from({ length: node.items }, (_, i) => (
              <option key={i} value={String(i)}>
                item {i}
              </option>
            ))}
          </select>
        </label>
      )}
      <h3>Attempts</h3>
      <AttemptList state={attempts} />
      <h3>Output</h3>
      <Json value={node?.output ?? null} label={`Output of ${nodeId}`} />
    </aside>
  );
}

type AttemptsState = { items?: Attempt[]; error?: string; unsupported?: boolean };

function useAttempts(runId: string, nodeId: string, item: number | null, version: number): AttemptsState {
  const [state, setState] = useState<AttemptsState>({});
  useEffect(() => {
    const controller = new AbortController();
    const query = item === null ? "" : `?item=${item}`;
    api<{ items: Attempt[] }>(`/v1/runs/${seg(runId)}/nodes/${seg(nodeId)}/attempts${query}`, {
      signal: controller.signal,
    }).then(
      (page) => setState({ items: page.items }),
      (error: Error) => {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 404 && /no route/.test(error.message))
          setState({ unsupported: true });
        else setState({ error: error.message });
      },
    );
    return () => controller.abort();
  }, [runId, nodeId, item, version]);
  return state;
}

function AttemptList({ state }: { state: AttemptsState }) {
  if (state.unsupported) return <p class="muted">This server keeps no attempt records.</p>;
  if (state.error) return <p class="error">{state.error}</p>;
  if (!state.items) return <p class="muted">Loading…</p>;
  if (state.items.length === 0) return <p class="muted">No attempt yet.</p>;
  return (
    <ol class="attempts">
      {state.items.map((a) => (
        <li
          key={`${a.round}/${a.item ?? ""}/${a.attempt}`}
          class={`attempt attempt-${a.status}`}
          data-round={a.round}
        >
          <p>
            <strong>
              round {a.round} · attempt {a.attempt}
              {a.item !== undefined && a.item !== null ? ` · item ${a.item}` : ""}
            </strong>{" "}
            <span class={`status status-${a.status}`}>{a.status}</span> · {time(a.startedAt)} ·{" "}
            {duration(a.durationMs)}
            {a.cached ? " · cache hit" : ""}
          </p>
          {(a.model || a.usage || a.cost) && (
            <p class="meta">
              {a.model ?? "–"}
              {a.provider ? ` (${a.provider})` : ""} · {tokens(a.usage)} · {money(a.cost)}
            </p>
          )}
          {a.error && (
            <p class="error attempt-error">
              <strong>{a.error.code}</strong>: {a.error.message}
              {a.error.retryable !== undefined
                ? a.error.retryable
                  ? " (retryable)"
                  : " (not retryable)"
                : ""}
            </p>
          )}
          {a.request !== undefined && a.request !== null && (
            <details>
              <summary>Request</summary>
              <Json value={a.request} label="The request of this attempt" />
            </details>
          )}
        </li>
      ))}
    </ol>
  );
}

/** What a waiting node (wait, approval) waits for, in words. */
function waitText(node: { readonly waitingFor?: string; readonly signal?: string }): string {
  if (node.waitingFor === "signal") return `for signal ${node.signal ?? ""}`.trim();
  if (node.waitingFor === "approval") return "for a decision (approval)";
  return "for its timer";
}
