import { duration } from "../format.ts";
import type { HistoryEvent, Run } from "../types.ts";
import { timelineOf } from "./timeline-model.ts";

const OUTCOME_ICON = {
  running: "▶",
  succeeded: "✓",
  failed: "✕",
  cached: "◆",
  cancelled: "⊘",
  skipped: "↷",
} as const;

/**
 * The run's Gantt chart: a row per node, a bar per attempt (every round, when
 * the server keeps history), dashed marks where a retry began a new round.
 * Bars differ by icon and pattern as well as colour, and each says what it is
 * in its tooltip and its accessible name.
 */
export function Timeline(props: {
  run: Run;
  history: readonly HistoryEvent[] | null;
  order: readonly string[];
  onSelect: (nodeId: string) => void;
}) {
  const now = Date.now();
  const timeline = timelineOf(props.run, props.history, props.order, now);
  const span = timeline.end - timeline.start;
  const x = (t: number) => `${(((t - timeline.start) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `max(3px, ${(((b - a) / span) * 100).toFixed(3)}%)`;
  if (timeline.rows.length === 0) return <p class="muted">No node has started yet.</p>;
  return (
    <table class="timeline">
      <caption class="visually-hidden">The nodes' attempts over time</caption>
      <thead>
        <tr>
          <th scope="col">node</th>
          <th scope="col" class="timeline-scale">
            0 … {duration(span)}
            {timeline.rounds.length > 0 ? ` · ${timeline.rounds.length + 1} rounds` : ""}
          </th>
        </tr>
      </thead>
      <tbody>
        {timeline.rows.map((row) => (
          <tr key={row.key} data-row={row.key}>
            <th scope="row">
              <button type="button" class="link" onClick={() => props.onSelect(row.nodeId)}>
                {row.key}
              </button>
            </th>
            <td class="timeline-track">
              {timeline.rounds.map((r) => (
                <span
                  class="round-mark"
                  key={r.round}
                  style={{ left: x(r.at) }}
                  title={`round ${r.round} begins`}
                />
              ))}
              {row.bars.map((bar) => {
                const end = bar.end ?? now;
                const text = `round ${bar.round}, attempt ${bar.attempt}: ${bar.outcome}, ${duration(end - bar.start)}${bar.detail ? ` (${bar.detail})` : ""}`;
                return (
                  <span
                    key={`${bar.round}/${bar.attempt}/${bar.start}`}
                    class={`bar bar-${bar.outcome}`}
                    style={{ left: x(bar.start), width: width(bar.start, end) }}
                    title={text}
                    role="img"
                    aria-label={text}
                  >
                    {OUTCOME_ICON[bar.outcome]}
                  </span>
                );
              })}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
