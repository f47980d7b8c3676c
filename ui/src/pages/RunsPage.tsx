import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, api, seg } from "../api.ts";
import { StatusBadge } from "../components/Status.tsx";
import { between, shortId, time } from "../format.ts";
import type { RunSummary, WorkflowSummary } from "../types.ts";
import { useApi } from "../use-api.ts";

/**
 * Runs, newest first, filtered by workflow and status (by the API) and by how
 * recent (here: the pages are read until they pass the limit), with a search
 * by run id. The filters live in the URL, so a filtered list can be linked to.
 */
const STATUSES = ["running", "pending", "succeeded", "failed", "cancelled", "timed_out"] as const;
const PERIODS = { "": "any time", "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days" } as const;
const PERIOD_MS: Record<string, number> = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 };

export function RunsPage() {
  const { query, route } = useLocation();
  const workflow = query.workflow ?? "";
  const status = query.status ?? "";
  const period = query.since ?? "";
  const workflows = useApi<{ items: WorkflowSummary[] }>("/v1/workflows");
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);

  const setFilter = (name: string, value: string) => {
    const params = new URLSearchParams({ workflow, status, since: period, [name]: value });
    for (const [key, v] of [...params]) if (v === "") params.delete(key);
    const text = params.toString();
    route(`/ui/runs${text ? `?${text}` : ""}`, true);
  };

  const load = async (cursor: string | null, append: boolean) => {
    setLoading(true);
    setError(null);
    const since = PERIOD_MS[period] ? Date.now() - (PERIOD_MS[period] ?? 0) : null;
    try {
      const collected: RunSummary[] = [];
      let page: { items: RunSummary[]; next: string | null };
      let at = cursor;
      do {
        const params = new URLSearchParams({ limit: "50" });
        if (workflow) params.set("workflow", workflow);
        if (status) params.set("status", status);
        if (at) params.set("cursor", at);
        page = await api<{ items: RunSummary[]; next: string | null }>(`/v1/runs?${params}`);
        const fresh =
          since === null ? page.items : page.items.filter((r) => Date.parse(r.createdAt) >= since);
        collected.push(...fresh);
        at = page.next;
        // Newest first: once a page reaches past the period, later pages are older still.
        if (since !== null && fresh.length < page.items.length) at = null;
      } while (at && collected.length < 50);
      setRuns((before) => (append ? [...before, ...collected] : collected));
      setNext(at);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(null, false);
  }, [workflow, status, period, tick]);

  return (
    <section>
      <h1 tabIndex={-1}>Runs</h1>
      <div class="filters">
        <RunSearch />
        <label>
          Workflow
          <select
            name="workflow"
            value={workflow}
            onChange={(e) => setFilter("workflow", e.currentTarget.value)}
          >
            <option value="">all</option>
            {workflows.data?.items.map((w) => (
              <option key={w.name} value={w.name}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status" value={status} onChange={(e) => setFilter("status", e.currentTarget.value)}>
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === "timed_out" ? "timed out" : s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Started
          <select name="since" value={period} onChange={(e) => setFilter("since", e.currentTarget.value)}>
            {Object.entries(PERIODS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => setTick((t) => t + 1)}>
          Refresh
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap">
        <table class="list runs">
          <thead>
            <tr>
              <th scope="col">run</th>
              <th scope="col">workflow</th>
              <th scope="col">status</th>
              <th scope="col">started</th>
              <th scope="col">took</th>
              <th scope="col">error</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.id} data-run={run.id}>
                <td>
                  <a href={`/ui/runs/${seg(run.id)}`} title={run.id}>
                    <code>{shortId(run.id)}</code>
                  </a>
                </td>
                <td>
                  {run.workflow.name} <span class="muted">v{run.workflow.version}</span>
                </td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td>{time(run.startedAt ?? run.createdAt)}</td>
                <td>{between(run.startedAt ?? run.createdAt, run.finishedAt)}</td>
                <td class="clip">{run.error ? `${run.error.code}: ${run.error.message}` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!loading && runs.length === 0 && !error && <p class="muted">No run matches.</p>}
      {loading && <p class="muted">Loading…</p>}
      {next && !loading && (
        <button type="button" onClick={() => void load(next, true)}>
          Show older runs
        </button>
      )}
    </section>
  );
}

function RunSearch() {
  const { route } = useLocation();
  const [id, setId] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      aria-label="Open a run by its id"
      class="run-search"
      onSubmit={async (event) => {
        event.preventDefault();
        const wanted = id.trim();
        if (!wanted) return;
        try {
          await api(`/v1/runs/${seg(wanted)}`);
          route(`/ui/runs/${seg(wanted)}`);
        } catch (e) {
          setError(
            e instanceof ApiError && e.status === 404 ? `No run has the id ${wanted}.` : (e as Error).message,
          );
        }
      }}
    >
      <label>
        Run id
        <input
          type="search"
          name="run-id"
          value={id}
          placeholder="0b6c7f0e-…"
          onInput={(e) => setId(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Open</button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
