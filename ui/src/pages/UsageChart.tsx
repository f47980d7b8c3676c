import { duration } from "../format.ts";

export interface Usage {
  readonly stepMs: number;
  readonly buckets: readonly {
    from: string;
    to: string;
    versions: Record<string, { calls: number; errors: number; timeouts: number; p95Ms: number | null }>;
  }[];
}

/**
 * Calls per step as stacked bars (successful calls solid, errors hatched, so
 * the two differ without colour), with a table of the same figures for screen
 * readers and for copying.
 */
export function UsageChart({ usage }: { usage: Usage }) {
  const rows = usage.buckets.map((b) => {
    const figures = Object.values(b.versions);
    const calls = figures.reduce((n, f) => n + f.calls, 0);
    const errors = figures.reduce((n, f) => n + f.errors, 0);
    const p95 = Math.max(0, ...figures.map((f) => f.p95Ms ?? 0));
    return { from: new Date(b.from), calls, errors, p95 };
  });
  const max = Math.max(1, ...rows.map((r) => r.calls));
  const total = rows.reduce((n, r) => n + r.calls, 0);
  const width = 24 * rows.length;
  return (
    <figure class="usage">
      <svg
        viewBox={`0 0 ${width} 120`}
        width="100%"
        height="140"
        preserveAspectRatio="none"
        aria-hidden="true"
      >
        <defs>
          <pattern
            id="hatch"
            width="4"
            height="4"
            patternUnits="userSpaceOnUse"
            patternTransform="rotate(45)"
          >
            <rect width="2" height="4" class="hatch" />
          </pattern>
        </defs>
        {rows.map((r, i) => {
          const h = (r.calls / max) * 110;
          const e = (r.errors / max) * 110;
          return (
            <g key={r.from.toISOString()} transform={`translate(${i * 24 + 2},0)`}>
              <rect class="bar-ok" y={120 - h} width="20" height={Math.max(0, h - e)} />
              <rect class="bar-error" y={120 - e} width="20" height={e} fill="url(#hatch)" />
            </g>
          );
        })}
      </svg>
      <figcaption>
        {total} {total === 1 ? "call" : "calls"} in {rows.length} steps of {duration(usage.stepMs)}; errors
        hatched. Busiest step: {max} {max === 1 ? "call" : "calls"}.
      </figcaption>
      <details>
        <summary>The figures</summary>
        <table class="list">
          <thead>
            <tr>
              <th scope="col">from</th>
              <th scope="col">calls</th>
              <th scope="col">errors</th>
              <th scope="col">p95</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.from.toISOString()}>
                <td>{r.from.toLocaleTimeString()}</td>
                <td>{r.calls}</td>
                <td>{r.errors}</td>
                <td>{r.calls ? duration(r.p95) : "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
