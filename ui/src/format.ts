/** How times, durations, tokens and money read in the console. */

export function time(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) {
    const minutes = Math.floor(ms / 60_000);
    const seconds = Math.round((ms % 60_000) / 1000);
    return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  }
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.round((ms % 3_600_000) / 60_000);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

export function between(start: string | null | undefined, end: string | null | undefined): string {
  if (!start) return "–";
  return duration((end ? Date.parse(end) : Date.now()) - Date.parse(start));
}

export function money(cost: { amount: number; currency: string } | null | undefined): string {
  if (!cost) return "–";
  return `${cost.amount.toFixed(cost.amount < 0.01 ? 5 : 2)} ${cost.currency}`;
}

export function tokens(
  usage: { totalTokens: number; inputTokens: number; outputTokens: number } | null | undefined,
) {
  if (!usage) return "–";
  return `${usage.totalTokens.toLocaleString()} (${usage.inputTokens.toLocaleString()} in, ${usage.outputTokens.toLocaleString()} out)`;
}

export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)}%`;
}

export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…` : id;
}
