import { createHash, timingSafeEqual } from "node:crypto";

/**
 * API keys with scopes. Keys are kept only as sha256 digests and compared in
 * constant time, so neither memory nor timing gives one away. A key's `id` (the
 * first 12 hex digits of its digest) names it in logs and rate limits.
 */
export const SCOPES = ["runs:write", "runs:read", "runs:approve", "definitions:write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  readonly id: string;
  readonly digest: Buffer;
  readonly scopes: ReadonlySet<Scope>;
}

export class ApiKeyError extends Error {
  override readonly name = "ApiKeyError";
}

/** `key:scope,scope;key2:scope` (PFLOW_API_KEYS). */
export function parseApiKeys(text: string | undefined): ApiKey[] {
  if (text === undefined || text.trim() === "") return [];
  return text
    .split(";")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      // The key ends at the first colon: scopes themselves contain colons (runs:read).
      const at = entry.indexOf(":");
      if (at <= 0)
        throw new ApiKeyError(`an API key entry must be key:scope[,scope…]; got one without scopes`);
      const key = entry.slice(0, at);
      if (key.length < 16) throw new ApiKeyError("an API key must be at least 16 characters long");
      const scopes = entry
        .slice(at + 1)
        .split(",")
        .map((scope) => scope.trim());
      for (const scope of scopes) {
        if (!(SCOPES as readonly string[]).includes(scope)) {
          throw new ApiKeyError(`unknown scope "${scope}" (scopes: ${SCOPES.join(", ")})`);
        }
      }
      const digest = sha256(key);
      return { id: digest.toString("hex").slice(0, 12), digest, scopes: new Set(scopes as Scope[]) };
    });
}

/** The key a bearer token is, or undefined. Every key is compared, so the time does not depend on which matched. */
export function findApiKey(keys: readonly ApiKey[], token: string): ApiKey | undefined {
  const digest = sha256(token);
  let found: ApiKey | undefined;
  for (const key of keys) if (timingSafeEqual(key.digest, digest)) found = key;
  return found;
}

/** admin grants every scope. */
export function allows(key: ApiKey, scope: Scope): boolean {
  return key.scopes.has("admin") || key.scopes.has(scope);
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
