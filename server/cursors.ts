import { Problem } from "./problems.ts";

/**
 * The API's cursor wraps the store's (whose form depends on the adapter) so
 * that one this API did not hand out is told apart and refused, rather than
 * read by the store as something else.
 */
export function apiCursorOf(storeCursor: string): string {
  return Buffer.from(JSON.stringify({ after: storeCursor }), "utf8").toString("base64url");
}

export function storeCursorOf(apiCursor: string): string {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(apiCursor, "base64url").toString("utf8"));
    const after = (decoded as { after?: unknown } | null)?.after;
    if (typeof after === "string") return after;
  } catch {
    // Not one of ours: refused below.
  }
  throw new Problem("bad-request", "the cursor is not one this API handed out; pass the `next` of a page");
}
