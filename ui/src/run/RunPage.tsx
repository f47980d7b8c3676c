import { useEffect, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api, seg } from "../api.ts";
import { Json } from "../components/CodeView.tsx";
import { Dag } from "../components/Dag.tsx";
import { StatusBadge } from "../components/Status.tsx";
import { between, money, time, tokens } from "../format.ts";
import { useCan } from "../session.tsx";
import type { NodeStatus, Run, WorkflowDetail } from "../types.ts";
import { useApi } from "../use-api.ts";
import { NodePanel } from "./NodePanel.tsx";
import { Timeline } from "./Timeline.tsx";
import { isFinished, useRun } from "./use-run.ts";

/**
 * A run: its graph coloured by node status, live over SSE; cancel and retry;
 * a timeline of attempts across rounds; and a panel for the node picked in the
 * graph or the timeline (?node= in the URL, so it can be linked to).
 */
export function RunPage() {
  const { params } = useRoute();
  const { query, route, path } = useLocation();
  const id = params.id ?? "";
  const live = useRun(id);
  const { run } = live;
  const workflow = useApi<WorkflowDetail>(run ? `/v1/workflows/${seg(run.workflow.name)}?plan=true` : null);
  const selected = query.node ?? null;
  useTicking(run !== undefined && !isFinished(run.status));
  const select = (nodeId: string | null) =>
    route(nodeId === null ? path : `${path}?node=${encodeURIComponent(nodeId)}`, true);

  if (!run) {
    return (
      <section>
        <p class="crumbs">
          <a href="/ui/runs">Runs</a> /
        </p>
        <h1 tabIndex={-1}>Run {id}</h1>
        {live.error ? (
          <p class="error" role="alert">
            {live.error.message}
          </p>
        ) : (
          <p class="muted">Loading…</p>
        )}
      </section>
    );
  }
  const plan = workflow.data?.plan;
  const statuses: Record<string, NodeStatus> = {};
  for (const [nodeId, node] of Object.entries(run.nodes)) statuses[nodeId] = node.status;
  return (
    <section class="run-page">
      <p class="crumbs">
        <a href="/ui/runs">Runs</a> /{" "}
        <a href={`/ui/workflows/${seg(run.workflow.name)}`}>{run.workflow.name}</a> /
      </p>
      <h1 tabIndex={-1}>
        Run <code>{run.id}</code>
      </h1>
      <div class="run-summary">
        <span data-testid="run-status">
          <StatusBadge status={run.status} />
        </span>
        <span>
          {run.workflow.name} v{run.workflow.version}
        </span>
        {run.round !== undefined && <span data-testid="run-round">round {run.round}</span>}
        <span>started {time(run.startedAt ?? run.createdAt)}</span>
        <span>took {between(run.startedAt ?? run.createdAt, run.finishedAt)}</span>
        <span>tokens {tokens(run.usage)}</span>
        <span>cost {money(run.cost)}</span>
        <span class="muted" aria-live="polite">
          {live.connection === "open" && !isFinished(run.status)
            ? "● live"
            : live.connection === "retrying"
              ? "reconnecting…"
              : ""}
        </span>
        <RunActions run={run} onChanged={live.follow} />
      </div>
      {run.error && (
        <p class="error" role="alert">
          <strong>{run.error.code}</strong>: {run.error.message}
        </p>
      )}
      {run.parent && (
        <p>
          Child run of{" "}
          <a href={`/ui/runs/${seg(run.parent.runId)}?node=${seg(run.parent.nodeId)}`}>{run.parent.runId}</a>{" "}
          (node {run.parent.nodeId}
          {run.parent.item !== null ? `, item ${run.parent.item}` : ""})
        </p>
      )}
      <div class={selected ? "run-layout with-panel" : "run-layout"}>
        <div class="run-graph">
          <h2>Graph</h2>
          {plan ? (
            <Dag
              plan={plan}
              statuses={statuses}
              selected={selected}
              onSelect={select}
              label={`The nodes of run ${run.id}`}
            />
          ) : workflow.error ? (
            <p class="error">{workflow.error.message}</p>
          ) : (
            <p class="muted">Drawing…</p>
          )}
          {workflow.data && workflow.data.latest !== run.workflow.version && (
            <p class="muted">
              The graph is drawn from version {workflow.data.latest} of the workflow; this run ran version{" "}
              {run.workflow.version}.
            </p>
          )}
        </div>
        {selected && (
          <NodePanel
            runId={run.id}
            nodeId={selected}
            node={run.nodes[selected]}
            plan={plan?.nodes[selected]}
            draft={live.drafts[selected]}
            version={live.version}
            onClose={() => select(null)}
          />
        )}
      </div>
      <h2>Timeline</h2>
      <Timeline
        run={run}
        history={live.history}
        order={plan?.order ?? Object.keys(run.nodes)}
        onSelect={select}
      />
      <div class="two-columns">
        <div>
          <h2>Input</h2>
          <Json value={run.input} label="The run's input" />
        </div>
        <div>
          <h2>Output</h2>
          <Json value={run.output} label="The run's output" />
        </div>
      </div>
      {Object.keys(run.models).length > 0 && (
        <>
          <h2>Models pinned</h2>
          <ul>
            {Object.entries(run.models).map(([reference, pinned]) => (
              <li key={reference}>
                {reference} → <a href={`/ui/models/${seg(pinned.split("@")[0] ?? pinned)}`}>{pinned}</a>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function RunActions({ run, onChanged }: { run: Run; onChanged: () => void }) {
  const canWrite = useCan("runs:write");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!canWrite) return null;
  const act = async (action: "cancel" | "retry") => {
    if (action === "cancel" && !window.confirm(`Cancel run ${run.id}? Its unfinished nodes end cancelled.`))
      return;
    setBusy(true);
    setError(null);
    try {
      await api(`/v1/runs/${seg(run.id)}/${action}`, { method: "POST" });
      onChanged();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const canRetry = run.status === "failed" || run.status === "cancelled" || run.status === "timed_out";
  const canCancel = !isFinished(run.status);
  return (
    <span class="actions">
      {canCancel && (
        <button type="button" disabled={busy} onClick={() => void act("cancel")}>
          Cancel run
        </button>
      )}
      {canRetry && (
        <button type="button" class="primary" disabled={busy} onClick={() => void act("retry")}>
          Retry run
        </button>
      )}
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** Re-renders every second while `on`, so durations and the timeline of a running run move on. */
function useTicking(on: boolean): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!on) return;
    const timer = setInterval(() => setTick((t) => t + 1), 1000);
    return () => clearInterval(timer);
  }, [on]);
}
