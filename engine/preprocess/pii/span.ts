/** The kinds of personal data redact_pii finds, in the order they win an overlap. */
export const PII_KINDS = ["email", "iban", "card", "phone"] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/** A found piece of personal data: `text.slice(start, end)`. */
export interface PiiSpan {
  readonly kind: PiiKind;
  readonly start: number;
  readonly end: number;
}

/**
 * Spans that do not overlap, in text order: where two overlap, the kind earlier
 * in PII_KINDS wins (an IBAN's digits are not a phone number), then the longer.
 */
export function withoutOverlaps(spans: readonly PiiSpan[]): PiiSpan[] {
  const rank = (span: PiiSpan) => PII_KINDS.indexOf(span.kind);
  const byPriority = [...spans].sort(
    (a, b) => rank(a) - rank(b) || b.end - b.start - (a.end - a.start) || a.start - b.start,
  );
  const kept: PiiSpan[] = [];
  for (const span of byPriority) {
    if (!kept.some((other) => span.start < other.end && other.start < span.end)) kept.push(span);
  }
  return kept.sort((a, b) => a.start - b.start);
}
