/**
 * The console's one way to the pflow API: same origin, the session's API key
 * as a bearer token, problem+json errors turned into ApiError with the
 * server's own detail (shown to the user as it is).
 */
const KEY_STORAGE = "pflow.apiKey";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly errors: readonly unknown[] = [],
  ) {
    super(message);
  }
}

/** Listeners told when the server refuses the key (401), so the app can ask for another. */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function authHeaders(): Record<string, string> {
  const key = storedKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

export interface RequestOptions {
  readonly method?: string;
  readonly json?: unknown;
  readonly yaml?: string;
  readonly signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...authHeaders() };
  let body: string | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.yaml !== undefined) {
    headers["content-type"] = "application/yaml";
    body = options.yaml;
  }
  const response = await fetch(path, {
    method: options.method ?? "GET",
    headers,
    ...(body === undefined ? {} : { body }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (response.status === 401) for (const listener of unauthorizedListeners) listener();
  const text = await response.text();
  const parsed = text === "" ? undefined : safeJson(text);
  if (!response.ok) {
    const problem = parsed as { detail?: string; title?: string; errors?: unknown[] } | undefined;
    throw new ApiError(
      response.status,
      problem?.detail ?? problem?.title ?? `${response.status} ${response.statusText}`,
      problem?.errors ?? [],
    );
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A path segment: ids may hold slashes (dead letters). */
export const seg = encodeURIComponent;
