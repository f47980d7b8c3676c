/**
 * An attempt's request as its history keeps it: the rendered model input or
 * preprocess arguments, with secrets taken out and the size bounded.
 *
 * - Values under a key that names a secret or the header carrying one
 *   (authorization, api keys, tokens, passwords, cookies…) become "[redacted]",
 *   at any depth. The engine reads secrets only by reference, so a secret in a
 *   request got there through an input: this is the net under that.
 * - A request whose JSON is over 64 KB is kept as text: its first 64 KB and a
 *   marker saying how much was cut.
 */
export const REQUEST_LIMIT_BYTES = 64 * 1024;
export const REDACTED = "[redacted]";

const SECRET_KEY =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|apikey|.*(secret|password|passwd|token|credential|private[-_]?key).*)$/i;

export function redactRequest(request: unknown): unknown {
  const redacted = redact(request, 0);
  const text = JSON.stringify(redacted) ?? "null";
  const bytes = Buffer.byteLength(text);
  if (bytes <= REQUEST_LIMIT_BYTES) return redacted;
  // Cut on a character boundary: slicing the UTF-8 bytes could split one.
  const cut = Buffer.from(text)
    .subarray(0, REQUEST_LIMIT_BYTES)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
  return `${cut}…[cut: ${bytes} bytes in all, the first ${REQUEST_LIMIT_BYTES} kept]`;
}

/** Depth-bounded: a request is JSON from templates, but the bound costs nothing. */
function redact(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > 64) return "[too deep]";
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : redact(item, depth + 1);
  }
  return out;
}
