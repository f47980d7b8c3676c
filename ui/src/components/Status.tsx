import type { Status } from "../types.ts";

/**
 * A status as an icon and a word, never by colour alone: each status has its
 * own glyph (✓ succeeded, ✕ failed, ▶ running…), so it reads in greyscale and
 * to colour-blind users; the colour only repeats it.
 */
export const STATUS_ICON: Record<Status, string> = {
  pending: "○",
  queued: "◷",
  running: "▶",
  waiting: "⏸",
  succeeded: "✓",
  failed: "✕",
  skipped: "↷",
  cancelled: "⊘",
  timed_out: "⌛",
};

export function statusLabel(status: Status): string {
  return status === "timed_out" ? "timed out" : status;
}

export function StatusBadge({ status }: { status: Status }) {
  return (
    <span class={`status status-${status}`} data-status={status}>
      <span aria-hidden="true">{STATUS_ICON[status]}</span> {statusLabel(status)}
    </span>
  );
}
