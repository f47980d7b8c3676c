import { UsageError } from "./usage.ts";

/**
 * The HTTP client of the commands that talk to a pflow server (`runs`,
 * `apply`): the address from --server, else PFLOW_URL, else the local
 * `pflow serve` default; the key from PFLOW_API_KEY (sent as a bearer token).
 * A problem reply becomes an ApiError carrying its detail (and findings), a
 * failed connection a ServerUnreachable naming the address and how to set it.
 */
export const DEFAULT_SERVER = "http://127.0.0.1:8080";

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  readonly errors: readonly unknown[];

  constructor(status: number, message: string, errors: readonly unknown[] = []) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

export class ServerUnreachable extends Error {
  override readonly name = "ServerUnreachable";
}

export interface ServerSettings {
  readonly url: string;
  readonly apiKey: string | undefined;
}

export function serverSettings(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ServerSettings {
  const raw = flag ?? (env.PFLOW_URL || undefined) ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--server / PFLOW_URL must be a URL such as ${DEFAULT_SERVER}, not "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(`--server / PFLOW_URL must be an http:// or https:// URL, not "${raw}"`);
  return { url: url.href.replace(/\/+$/, ""), apiKey: env.PFLOW_API_KEY || undefined };
}

export class ApiClient {
  readonly url: string;
  readonly #apiKey: string | undefined;

  constructor(settings: ServerSettings) {
    this.url = settings.url;
    this.#apiKey = settings.apiKey;
  }

  /** JSON in, JSON out; `yaml` sends a YAML body instead. */
  async request<T>(
    method: string,
    path: string,
    body?: { json?: unknown; yaml?: string },
  ): Promise<{ status: number; body: T }> {
    const response = await this.fetch(path, { method, ...encode(body) });
    const text = await response.text();
    const parsed = text === "" ? undefined : safeJson(text);
    if (!response.ok) {
      const problem = (parsed ?? {}) as { detail?: unknown; errors?: unknown };
      const detail =
        typeof problem.detail === "string" ? problem.detail : `${response.status} ${text.slice(0, 200)}`;
      throw new ApiError(response.status, detail, Array.isArray(problem.errors) ? problem.errors : []);
    }
    return { status: response.status, body: parsed as T };
  }

  /** A raw request (an event stream, say), with the key and the unreachable-server message. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#apiKey) headers.set("authorization", `Bearer ${this.#apiKey}`);
    try {
      return await fetch(`${this.url}${path}`, { ...init, headers });
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerUnreachable(
        `cannot reach the pflow server at ${this.url} (${cause?.code ?? cause?.message ?? (error as Error).message}); ` +
          "give its address with --server URL or PFLOW_URL",
      );
    }
  }
}

function encode(body: { json?: unknown; yaml?: string } | undefined): RequestInit {
  if (body?.yaml !== undefined) return { body: body.yaml, headers: { "content-type": "application/yaml" } };
  if (body?.json !== undefined)
    return { body: JSON.stringify(body.json), headers: { "content-type": "application/json" } };
  return {};
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
