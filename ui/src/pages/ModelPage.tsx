import { useEffect, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { seg } from "../api.ts";
import { Loading } from "../components/Loading.tsx";
import { duration, percent, time } from "../format.ts";
import { useApi } from "../use-api.ts";
import { type Usage, UsageChart } from "./UsageChart.tsx";

interface Canary {
  readonly version: string;
  readonly percent: number;
  readonly autoRollback?: {
    maxErrorRateDelta?: number | null;
    maxP95Ratio?: number | null;
    minCalls?: number;
  } | null;
}
interface ModelDetail {
  readonly name: string;
  readonly description: string | null;
  readonly latest: number;
  readonly versions: readonly { version: string; provider: string }[];
  readonly aliases: Record<string, { version: string; canary: Canary | null }>;
  readonly defaultTarget: { alias?: string; version?: string };
}
interface Figures {
  readonly calls: number;
  readonly errorRate: number | null;
  readonly timeoutRate: number | null;
  readonly latencyMs: { p50: number | null; p95: number | null; p99: number | null };
}
interface Health {
  readonly since: string;
  readonly versions: Record<string, Figures>;
  readonly canaries: Record<string, { decision: string; reason: string; since: string }>;
}
interface HistoryItem {
  readonly version: number;
  readonly createdAt: string;
  readonly actor: string;
  readonly reason: string | null;
  readonly changes: readonly string[];
}

const WINDOWS = ["5m", "1h", "24h"] as const;
const CIRCUIT = ["closed", "half-open", "open"] as const;

/**
 * One model: versions and providers, aliases with their canaries and what
 * canary analysis makes of them, health per version (error rate, p95, and
 * this server's circuit breaker), calls over time, and the audit trail.
 */
export function ModelPage() {
  const { params } = useRoute();
  const name = params.name ?? "";
  const model = useApi<ModelDetail>(`/v1/models/${seg(name)}`);
  const [window, setWindow] = useState<(typeof WINDOWS)[number]>("1h");
  const health = useApi<Health>(`/v1/models/${seg(name)}/health?window=${window}`);
  const usage = useApi<Usage>(`/v1/models/${seg(name)}/usage?window=24h&buckets=24`);
  const history = useApi<{ items: HistoryItem[] }>(`/v1/models/${seg(name)}/history`);
  const circuits = useCircuits(name);
  return (
    <section>
      <p class="crumbs">
        <a href="/ui/models">Models</a> /
      </p>
      <h1 tabIndex={-1}>{name}</h1>
      <Loading state={model}>
        {(m) => (
          <>
            {m.description && <p>{m.description}</p>}
            <h2>Versions and health</h2>
            <label class="inline">
              Over the last{" "}
              <select value={window} onChange={(e) => setWindow(e.currentTarget.value as typeof window)}>
                {WINDOWS.map((w) => (
                  <option key={w} value={w}>
                    {w}
                  </option>
                ))}
              </select>
            </label>
            <div class="table-wrap">
              <table class="list">
                <thead>
                  <tr>
                    <th scope="col">version</th>
                    <th scope="col">provider</th>
                    <th scope="col">calls</th>
                    <th scope="col">error rate</th>
                    <th scope="col">timeouts</th>
                    <th scope="col">p50</th>
                    <th scope="col">p95</th>
                    <th scope="col">circuit (this server)</th>
                  </tr>
                </thead>
                <tbody>
                  {m.versions.map((v) => {
                    const f = health.data?.versions[v.version];
                    const circuit = circuits[`${name}@${v.version}`];
                    return (
                      <tr key={v.version}>
                        <td>{v.version}</td>
                        <td>{v.provider}</td>
                        <td>{f?.calls ?? "–"}</td>
                        <td>{percent(f?.errorRate)}</td>
                        <td>{percent(f?.timeoutRate)}</td>
                        <td>{duration(f?.latencyMs.p50)}</td>
                        <td>{duration(f?.latencyMs.p95)}</td>
                        <td>
                          {circuit === undefined ? (
                            "closed"
                          ) : (
                            <span class={`circuit circuit-${CIRCUIT[circuit]}`}>
                              {circuit === 2 ? "⊘ " : circuit === 1 ? "◐ " : "✓ "}
                              {CIRCUIT[circuit]}
                            </span>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            {health.error && <p class="error">{health.error.message}</p>}
            <h2>Aliases</h2>
            <ul class="aliases">
              {Object.entries(m.aliases).map(([alias, target]) => {
                const verdict = health.data?.canaries[alias];
                return (
                  <li key={alias}>
                    <strong>{alias}</strong> → {target.version}
                    {m.defaultTarget.alias === alias ? " (what the bare name means)" : ""}
                    {target.canary ? (
                      <div class="canary">
                        canary: {target.canary.percent}% of new runs get {target.canary.version}
                        {target.canary.autoRollback
                          ? `, rolled back automatically${target.canary.autoRollback.maxErrorRateDelta != null ? ` past error rate +${percent(target.canary.autoRollback.maxErrorRateDelta)}` : ""}${target.canary.autoRollback.maxP95Ratio != null ? ` or p95 ×${target.canary.autoRollback.maxP95Ratio}` : ""}`
                          : ", no automatic rollback"}
                        {verdict && (
                          <p>
                            analysis: <strong>{verdict.decision}</strong> — {verdict.reason}
                          </p>
                        )}
                      </div>
                    ) : (
                      <span class="muted"> · no canary</span>
                    )}
                  </li>
                );
              })}
            </ul>
          </>
        )}
      </Loading>
      <h2>Calls over the last 24 hours</h2>
      <Loading state={usage}>{(u) => <UsageChart usage={u} />}</Loading>
      <h2>History</h2>
      <Loading state={history}>
        {(h) => (
          <ol class="history">
            {h.items.map((item) => (
              <li key={item.version}>
                <strong>v{item.version}</strong> · {time(item.createdAt)}
                {item.actor && <> · {item.actor}</>}
                {item.reason && <> · “{item.reason}”</>}
                <ul>
                  {item.changes.map((change) => (
                    <li key={change}>{change}</li>
                  ))}
                </ul>
              </li>
            ))}
          </ol>
        )}
      </Loading>
    </section>
  );
}

/** This server's circuit breakers (pflow_circuit_state in /metrics): 0 closed, 1 half-open, 2 open. */
function useCircuits(name: string): Record<string, 0 | 1 | 2> {
  const [states, setStates] = useState<Record<string, 0 | 1 | 2>>({});
  useEffect(() => {
    const controller = new AbortController();
    fetch("/metrics", { signal: controller.signal })
      .then((r) => (r.ok ? r.text() : ""))
      .then((text) => {
        const found: Record<string, 0 | 1 | 2> = {};
        for (const match of text.matchAll(/^pflow_circuit_state\{model="([^"]+)"\} (\d)/gm)) {
          if (match[1]?.startsWith(`${name}@`)) found[match[1]] = Number(match[2]) as 0 | 1 | 2;
        }
        setStates(found);
      })
      .catch(() => {});
    return () => controller.abort();
  }, [name]);
  return states;
}
