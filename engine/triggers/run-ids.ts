import { createHash } from "node:crypto";

/**
 * The run id of a firing, derived from what identifies it (the trigger and its
 * tick, message id or signature): every process that handles the same firing
 * computes the same id, and Store.createRun is idempotent on it, so a firing
 * handled twice is one run. Shaped as a UUID (version 8: custom, RFC 9562) so
 * it looks like every other run id.
 */
export function derivedRunId(...parts: readonly (string | number)[]): string {
  const hex = createHash("sha256").update(parts.map(String).join("\u0000")).digest("hex");
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
