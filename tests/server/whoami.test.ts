import { afterEach, describe, expect, it } from "vitest";
import { whoamiRoutes } from "../../server/routes/whoami.ts";
import { ADMIN_KEY, READER_KEY, type TestServer, testServer, WRITER_KEY } from "./harness.ts";

// GET /v1/auth/whoami: the caller's key id and scopes, which the console uses
// to show only the actions the key allows.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("GET /v1/auth/whoami", () => {
  it("names the key by its id and lists its scopes, for any valid key", async () => {
    server = await testServer({ routes: [whoamiRoutes] });
    const writer = await server.request("GET", "/v1/auth/whoami", { key: WRITER_KEY });
    expect(writer.status).toBe(200);
    expect(writer.json.scopes).toEqual(["runs:write", "runs:read"]);
    expect(writer.json.name).toMatch(/^[0-9a-f]{12}$/);
    expect((await server.request("GET", "/v1/auth/whoami", { key: READER_KEY })).json.scopes).toEqual([
      "runs:read",
    ]);
    expect((await server.request("GET", "/v1/auth/whoami", { key: ADMIN_KEY })).json.scopes).toEqual([
      "admin",
    ]);
  });

  it("answers 401 without a key or with an unknown one", async () => {
    server = await testServer({ routes: [whoamiRoutes] });
    expect((await server.request("GET", "/v1/auth/whoami", { key: null })).status).toBe(401);
    const wrong = await server.request("GET", "/v1/auth/whoami", { key: "not-a-configured-key-at-all" });
    expect(wrong.status).toBe(401);
    expect(wrong.json.detail).toBe("the API key is not valid");
  });

  it("is `local` with every scope on a server without keys (loopback only)", async () => {
    server = await testServer({ routes: [whoamiRoutes], keys: "" });
    const me = await server.request("GET", "/v1/auth/whoami", { key: null });
    expect(me.json).toEqual({ name: "local", scopes: ["admin"] });
  });
});
