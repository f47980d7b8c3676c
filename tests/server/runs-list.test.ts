import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import { type TestServer, testServer } from "./harness.ts";

// GET /v1/runs: newest first, filtered by workflow and status, paged with an
// opaque cursor that covers every run exactly once.

const DEFINITIONS = [
  workflow("alpha", `    a: { type: transform, expr: "'a'" }\n`),
  workflow("beta", `    b: { type: model, model: broken }\n`),
  mockModel("broken", { "1": 'error: "the model refused"' }),
];

let server: TestServer;
/** Run ids in the order they were started: of each workflow, and of both. */
const alphaRuns: string[] = [];
const betaRuns: string[] = [];
const allRuns: string[] = [];

beforeAll(async () => {
  server = await testServer({ definitions: DEFINITIONS, routes: [runRoutes] });
  for (let i = 0; i < 7; i++) {
    const alpha = await server.request("POST", "/v1/workflows/alpha/runs?wait=5", { body: {} });
    alphaRuns.push(alpha.json.id);
    allRuns.push(alpha.json.id);
    if (i % 2 === 0) {
      const beta = await server.request("POST", "/v1/workflows/beta/runs?wait=5", { body: {} });
      betaRuns.push(beta.json.id);
      allRuns.push(beta.json.id);
    }
  }
});
afterAll(async () => {
  await server.close();
});

async function allPages(query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const suffix: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const response = await server.request("GET", `/v1/runs?limit=${limit}${query}${suffix}`);
    expect(response.status).toBe(200);
    expect(response.json.items.length).toBeLessThanOrEqual(limit);
    ids.push(...response.json.items.map((run: { id: string }) => run.id));
    cursor = response.json.next;
    pages++;
  } while (cursor !== null);
  return { ids, pages };
}

describe("GET /v1/runs", () => {
  it("lists runs newest first as summaries", async () => {
    const response = await server.request("GET", "/v1/runs");
    expect(response.status).toBe(200);
    expect(response.json.next).toBeNull();
    expect(response.json.items.map((run: { id: string }) => run.id)).toEqual([...allRuns].reverse());
    const newestAlpha = response.json.items.find((run: { id: string }) => run.id === alphaRuns.at(-1));
    expect(newestAlpha).toEqual({
      id: alphaRuns.at(-1),
      workflow: { name: "alpha", version: 1 },
      status: "succeeded",
      error: null,
      createdAt: expect.any(String),
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      cost: null,
      parent: null,
    });
    const created = response.json.items.map((run: { createdAt: string }) => Date.parse(run.createdAt));
    expect(created).toEqual([...created].sort((a, b) => b - a));
  });

  it("lists at most `limit` runs, and 20 when not told", async () => {
    const crowded = await testServer({ definitions: DEFINITIONS, routes: [runRoutes] });
    try {
      for (let i = 0; i < 21; i++) await crowded.request("POST", "/v1/workflows/alpha/runs", { body: {} });
      const page = await crowded.request("GET", "/v1/runs");
      expect(page.json.items).toHaveLength(20);
      expect(page.json.next).toEqual(expect.any(String));
      const rest = await crowded.request("GET", `/v1/runs?cursor=${page.json.next}`);
      expect(rest.json.items).toHaveLength(1);
      expect(rest.json.next).toBeNull();
      expect((await crowded.request("GET", "/v1/runs?limit=100")).json.items).toHaveLength(21);
    } finally {
      await crowded.close();
    }
  });

  it("pages through every run exactly once with the cursor", async () => {
    const { ids, pages } = await allPages("", 3);
    expect(pages).toBe(4);
    expect(ids).toHaveLength(alphaRuns.length + betaRuns.length);
    expect(new Set(ids)).toEqual(new Set([...alphaRuns, ...betaRuns]));
  });

  it("filters by workflow and by status, across pages", async () => {
    const alpha = await allPages("&workflow=alpha", 2);
    expect(alpha.ids).toEqual([...alphaRuns].reverse());
    const failed = await allPages("&status=failed", 2);
    expect(failed.ids).toEqual([...betaRuns].reverse());
    const both = await allPages("&workflow=alpha&status=failed", 2);
    expect(both.ids).toEqual([]);
  });

  it("shows a failed run's error", async () => {
    const response = await server.request("GET", "/v1/runs?workflow=beta&limit=1");
    expect(response.json.items[0]).toMatchObject({
      status: "failed",
      error: { code: "node-failed", message: expect.stringContaining("the model refused") },
    });
  });

  it("refuses a cursor it did not hand out", async () => {
    for (const cursor of ["garbage", "bm90LWpzb24", Buffer.from('{"after":3}').toString("base64url")]) {
      const response = await server.request("GET", `/v1/runs?cursor=${cursor}`);
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(response.json.detail).toMatch(/cursor/);
    }
  });

  it("refuses a limit outside 1–100, an unknown status and unknown parameters", async () => {
    for (const query of ["limit=0", "limit=101", "limit=ten", "status=done", "sort=asc"]) {
      const response = await server.request("GET", `/v1/runs?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.json.errors?.length, query).toBeGreaterThan(0);
    }
  });
});
