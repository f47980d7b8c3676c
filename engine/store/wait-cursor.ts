import type { ExecutionRecord } from "./records.ts";

/** A page of waiting executions ends at (updatedAt, key); the next starts after it. */
export function encodeCursor(execution: Pick<ExecutionRecord, "updatedAt" | "key">): string {
  return Buffer.from(JSON.stringify([execution.updatedAt, execution.key])).toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined): { at: number; key: string } {
  if (!cursor) return { at: Number.MIN_SAFE_INTEGER, key: "" };
  try {
    const [at, key] = JSON.parse(Buffer.from(cursor, "base64url").toString()) as [unknown, unknown];
    if (typeof at === "number" && typeof key === "string") return { at, key };
  } catch {
    // falls through: a cursor that is not ours starts from the beginning
  }
  return { at: Number.MIN_SAFE_INTEGER, key: "" };
}
