import { existsSync } from "node:fs";
import type { RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RoutePlugin } from "../../server/app.ts";
import { createMetrics } from "../../server/metrics.ts";
import { opsRoutes } from "../../server/routes/ops.ts";
import { type TestServer, testServer } from "./harness.ts";

// The OpenAPI document must describe every route the server has. The route
// plugins are imported from a list, and a file not yet written is skipped,
// so this test covers each resource as soon as it exists.

const PLUGINS: readonly (readonly [file: string, exported: string])[] = [
  ["runs.ts", "runRoutes"],
  ["definitions.ts", "definitionRoutes"],
  ["models.ts", "modelRoutes"],
  ["dead-letters.ts", "deadLetterRoutes"],
];

async function existingPlugins(): Promise<RoutePlugin[]> {
  const plugins: RoutePlugin[] = [];
  for (const [file, exported] of PLUGINS) {
    const url = new URL(`../../server/routes/${file}`, import.meta.url);
    if (!existsSync(url)) continue;
    const module = (await import(url.href)) as Record<string, unknown>;
    const plugin = module[exported];
    if (typeof plugin !== "function") throw new Error(`server/routes/${file} does not export ${exported}`);
    plugins.push(plugin as RoutePlugin);
  }
  plugins.push(opsRoutes(createMetrics()));
  return plugins;
}

/** Each plugin, with an onRoute hook in its own scope first, so every route it adds is seen. */
function recording(plugin: RoutePlugin, routes: RouteOptions[]): RoutePlugin {
  return async (app, deps) => {
    app.addHook("onRoute", (route) => {
      routes.push(route);
    });
    await plugin(app, deps);
  };
}

let server: TestServer;
const routes: RouteOptions[] = [];
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is read as plain JSON
let document: any;

beforeAll(async () => {
  const plugins = await existingPlugins();
  server = await testServer({
    routes: plugins.map((plugin) => recording(plugin, routes)),
  });
  const response = await server.request("GET", "/openapi.json", { key: null });
  expect(response.status).toBe(200);
  document = response.json;
});
afterAll(async () => {
  await server?.close();
});

/** Every (method, OpenAPI path) the plugins registered; HEAD twins of GET routes are Fastify's, not ours. */
function registered(): { method: string; path: string }[] {
  return routes.flatMap((route) =>
    [route.method]
      .flat()
      .filter((method) => method !== "HEAD")
      .map((method) => ({
        method: method.toLowerCase(),
        path: route.url.replace(/:(\w+)/g, "{$1}"),
      })),
  );
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document", () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(typeof document.paths).toBe("object");
  });

  it("describes every registered route with its method", () => {
    const routesSeen = registered();
    expect(routesSeen.map((r) => r.path)).toEqual(
      expect.arrayContaining(["/healthz", "/readyz", "/metrics"]),
    );
    const missing = routesSeen.filter(({ method, path }) => document.paths[path]?.[method] === undefined);
    expect(missing).toEqual([]);
  });

  it("gives every operation an operationId (unique), a summary and a tag", () => {
    const operations = registered().map(({ method, path }) => ({
      route: `${method.toUpperCase()} ${path}`,
      operation: document.paths[path]?.[method] ?? {},
    }));
    const incomplete = operations
      .filter(
        ({ operation }) =>
          typeof operation.operationId !== "string" ||
          typeof operation.summary !== "string" ||
          !(operation.tags?.length > 0),
      )
      .map(({ route }) => route);
    expect(incomplete).toEqual([]);
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("marks the operations endpoints as needing no key", () => {
    for (const path of ["/healthz", "/readyz", "/metrics"])
      expect(document.paths[path].get.security).toEqual([]);
  });

  it("leaves out the documentation routes themselves", () => {
    expect(Object.keys(document.paths).filter((p) => p.startsWith("/docs") || p === "/openapi.json")).toEqual(
      [],
    );
  });
});

describe("GET /docs", () => {
  it("serves the browsable page as HTML without a key", async () => {
    const response = await server.request("GET", "/docs", { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  });

  it("reads /openapi.json, the address the README gives, and is branded pflow, not fastify", async () => {
    const page = await server.request("GET", "/docs/", { key: null });
    expect(page.text).toContain("<title>pflow API</title>");
    expect(page.text).not.toMatch(/favicon-32x32\.png/);
    const script = await server.request("GET", "/docs/static/swagger-initializer.js", { key: null });
    expect(script.status).toBe(200);
    expect(script.text).toContain('"urls":[{"url":"/openapi.json","name":"pflow API"}]');
    const logo = /data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/.exec(script.text)?.[1] ?? "";
    const svg = Buffer.from(logo, "base64").toString("utf8");
    expect(svg).toContain("pflow API");
    expect(svg.toLowerCase()).not.toContain("fastify");
    const favicon = await server.request("GET", "/docs/static/theme/favicon.svg", { key: null });
    expect(favicon.status).toBe(200);
  });
});
