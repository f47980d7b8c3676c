import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { consoleRoutes } from "../../server/routes/console.ts";
import { type TestServer, testServer } from "./harness.ts";

// The console's files at /ui, from a directory laid out as Vite builds it:
// public (the app asks for the key itself), deep links answered with the
// app's index, hashed assets cached for good, and a clear answer when the
// console is not built.

let server: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function builtConsole(): string {
  dir = mkdtempSync(join(tmpdir(), "pflow-console-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>pflow console</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log('console');");
  return dir;
}

describe("the console at /ui", () => {
  it("serves the app without a key, with a content security policy of its own origin only", async () => {
    server = await testServer({ routes: [consoleRoutes(builtConsole())] });
    const index = await server.request("GET", "/ui/", { key: null });
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toContain("text/html");
    expect(index.text).toContain("pflow console");
    expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(index.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(index.headers.get("cache-control")).toContain("max-age=0");
  });

  it("answers its pages' deep links with the app's index, and /ui with a redirect to /ui/", async () => {
    server = await testServer({ routes: [consoleRoutes(builtConsole())] });
    for (const path of ["/ui/runs/0b6c7f0e-5d1a", "/ui/workflows/listing-description", "/ui/dead-letters"]) {
      const page = await server.request("GET", path, { key: null });
      expect(page.status, path).toBe(200);
      expect(page.text).toContain("pflow console");
    }
    const bare = await fetch(`${server.url}/ui`, { redirect: "manual" });
    expect(bare.status).toBe(302);
    expect(bare.headers.get("location")).toBe("/ui/");
  });

  it("caches hashed assets for good, and answers a missing file or a path out of the directory with 404", async () => {
    server = await testServer({ routes: [consoleRoutes(builtConsole())] });
    const asset = await server.request("GET", "/ui/assets/index-abc123.js", { key: null });
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await server.request("GET", "/ui/assets/missing.js", { key: null })).status).toBe(404);
    expect(
      (await server.request("GET", "/ui/..%2f..%2fpackage.json", { key: null })).status,
    ).toBeGreaterThanOrEqual(400);
  });

  it("sends the compressed copy the build made to a browser that accepts it", async () => {
    const root = builtConsole();
    writeFileSync(join(root, "assets", "index-abc123.js.gz"), gzipSync("console.log('console');"));
    server = await testServer({ routes: [consoleRoutes(root)] });
    const response = await fetch(`${server.url}/ui/assets/index-abc123.js`, {
      headers: { "accept-encoding": "gzip" },
    });
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(response.headers.get("vary")).toContain("accept-encoding");
    expect(await response.text()).toBe("console.log('console');"); // fetch decodes it
    const plain = await fetch(`${server.url}/ui/assets/index-abc123.js`, {
      headers: { "accept-encoding": "identity" },
    });
    expect(plain.headers.get("content-encoding")).toBeNull();
  });

  it("says how to build the console when it is not built", async () => {
    server = await testServer({ routes: [consoleRoutes(join(tmpdir(), "pflow-no-console-here"))] });
    const response = await server.request("GET", "/ui/", { key: null });
    expect(response.status).toBe(404);
    expect(response.json.detail).toBe(
      "the web console is not built: run `npm run build:ui` (npm install and npm ci run it) and restart",
    );
  });
});
