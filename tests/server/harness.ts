import type { AddressInfo } from "node:net";
import pino from "pino";
import { validateDefinitions } from "../../compiler/index.ts";
import { createEngine } from "../../engine/create.ts";
import type { Engine } from "../../engine/engine.ts";
import type { EngineObserver } from "../../engine/observer.ts";
import { EgressPolicy } from "../../engine/providers/egress.ts";
import { buildServer, type RoutePlugin, type ServerOptions } from "../../server/app.ts";
import { parseApiKeys } from "../../server/auth.ts";

/**
 * A real listening server (127.0.0.1, a free port) on the embedded adapters,
 * with the given definitions registered and the given routes, for tests that
 * speak HTTP to it with fetch.
 */
export const ADMIN_KEY = "admin-key-0123456789abcdef";
export const READER_KEY = "reader-key-0123456789abcdef";
export const WRITER_KEY = "writer-key-0123456789abcdef";
export const DEFINER_KEY = "definer-key-0123456789abcdef";
export const TEST_KEYS = `${ADMIN_KEY}:admin;${READER_KEY}:runs:read;${WRITER_KEY}:runs:write,runs:read;${DEFINER_KEY}:definitions:write`;

export interface Response {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or undefined. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies freely
  readonly json: any;
}

export interface TestServer {
  readonly url: string;
  readonly engine: Engine;
  /** A request with the admin key unless `key` says otherwise (null: no Authorization header). */
  request(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      raw?: string | Uint8Array;
      contentType?: string;
      key?: string | null;
      headers?: Record<string, string>;
    },
  ): Promise<Response>;
  close(): Promise<void>;
}

export async function testServer(options: {
  definitions?: readonly string[];
  routes: readonly RoutePlugin[];
  keys?: string;
  rateLimit?: { max: number; windowMs: number };
  observer?: EngineObserver;
  server?: Pick<ServerOptions, "requestTimeoutMs" | "validation">;
}): Promise<TestServer> {
  const logger = pino({ level: "silent" });
  const { engine, close } = await createEngine({
    storeUrl: "sqlite::memory:",
    brokerUrl: "memory:",
    logger,
    egress: new EgressPolicy({ allowLoopback: true }),
    config: { sweepIntervalMs: 25, leaseMs: 2_000, strandedAfterMs: 500 },
    ...(options.observer ? { observer: options.observer } : {}),
  });
  const set = validateDefinitions(
    (options.definitions ?? []).map((text, i) => ({ path: `def-${i}.yaml`, text })),
  );
  if (!set.valid)
    throw new Error(
      JSON.stringify(
        set.files.flatMap((f) => f.errors),
        null,
        2,
      ),
    );
  await engine.services.catalog.register(set, Date.now());
  await engine.start({ recoverAllLeases: true });
  const app = await buildServer({
    engine,
    logger,
    apiKeys: parseApiKeys(options.keys ?? TEST_KEYS),
    routes: options.routes,
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...options.server,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    engine,
    async request(method, path, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      const key = requestOptions.key === undefined ? ADMIN_KEY : requestOptions.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | Uint8Array | undefined;
      if (requestOptions.raw !== undefined) body = requestOptions.raw;
      else if (requestOptions.body !== undefined) body = JSON.stringify(requestOptions.body);
      if (body !== undefined) headers["content-type"] = requestOptions.contentType ?? "application/json";
      const response = await fetch(`${url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    async close() {
      await app.close();
      await close();
    },
  };
}
