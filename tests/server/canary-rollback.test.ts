import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../server/metrics.ts";
import { modelHealthRoutes } from "../../server/routes/model-health.ts";
import { modelRoutes } from "../../server/routes/models.ts";
import { opsRoutes } from "../../server/routes/ops.ts";
import { ADMIN_KEY, type TestServer, testServer } from "./harness.ts";

// A canary set over the API, judged by canary analysis on the calls real runs
// made, and rolled back when worse: the health route shows the verdict, the
// history every move with who and why, and /metrics the rollback.

const LISTING = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: listing }
spec:
  nodes:
    draft: { type: model, model: writer@production, retry: { maxAttempts: 1 }, onError: continue }
`;

const WRITER = `apiVersion: pflow/v1
kind: Model
metadata: { name: writer }
spec:
  versions:
    "1": { provider: mock, response: { text: steady } }
    "2": { provider: mock, error: "version 2 cannot write" }
    "3": { provider: mock, response: { text: also steady } }
  aliases:
    production: "1"
`;

const keyId = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 12);

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(canaryVersion: string) {
  const metrics = createMetrics();
  server = await testServer({
    definitions: [LISTING, WRITER],
    routes: [modelRoutes, modelHealthRoutes, opsRoutes(metrics)],
    observer: metrics.observer,
  });
  const canary = await server.request("PUT", "/v1/models/writer/aliases/production", {
    body: {
      version: "1",
      canary: { version: canaryVersion, percent: 50, autoRollback: { maxErrorRateDelta: 0.25, minCalls: 5 } },
      reason: `trying ${canaryVersion} on half the traffic`,
    },
    key: ADMIN_KEY,
  });
  expect(canary.status).toBe(200);
  return server;
}

async function runMany(s: TestServer, n: number): Promise<void> {
  const { engine } = s;
  const runs = await Promise.all(
    Array.from({ length: n }, () => engine.startRun({ workflow: "listing", input: {} })),
  );
  for (const run of runs) expect((await engine.waitForRun(run.id, 20_000))?.status).toBe("succeeded");
  await engine.services.calls.flush();
}

function rollbacks(metricsText: string): string | undefined {
  return /^pflow_canary_rollbacks_total\{model="writer",alias="production"\} (\S+)$/m.exec(metricsText)?.[1];
}

describe("canary rollback over the API", () => {
  it("a bad canary: the health route foresees it, the analysis rolls it back, history and metrics record it", async () => {
    const s = await start("2");
    await runMany(s, 30);

    const before = await s.request("GET", "/v1/models/writer/health");
    expect(before.status).toBe(200);
    const verdict = before.json.canaries.production;
    expect(verdict).toMatchObject({
      decision: "roll-back",
      canary: { version: "2", errorRate: 1 },
      base: { version: "1", errorRate: 0 },
    });
    expect(Date.parse(verdict.since) % 60_000).toBe(0);
    expect(verdict.reason).toMatch(/^canary 2 is worse than base 1: error rate 100\.0% against 0\.0%/);
    // Judging there changed nothing.
    expect((await s.request("GET", "/v1/models/writer")).json.aliases.production.canary).not.toBeNull();

    const [report] = await s.engine.canaries.analyse();
    expect(report?.rolledBack).toBe(true);

    const model = await s.request("GET", "/v1/models/writer");
    expect(model.json.aliases.production).toEqual({ version: "1", canary: null });
    const history = await s.request("GET", "/v1/models/writer/history");
    expect(history.json.items).toEqual([
      expect.objectContaining({
        version: 3,
        actor: "canary-analysis",
        reason: `rolled back: ${report?.verdict.reason}`,
        changes: ["alias production: canary 2 cleared"],
      }),
      expect.objectContaining({
        version: 2,
        actor: keyId(ADMIN_KEY),
        reason: "trying 2 on half the traffic",
        changes: [
          "alias production: canary 2 at 50% (rolled back automatically past error rate +25 points, after 5 calls)",
        ],
      }),
      expect.objectContaining({ version: 1, actor: null, reason: null, changes: ["registered"] }),
    ]);

    const metrics = await s.request("GET", "/metrics", { key: null });
    expect(rollbacks(metrics.text)).toBe("1");
    // Nothing left to foresee.
    expect((await s.request("GET", "/v1/models/writer/health")).json.canaries).toEqual({});
  });

  it("a good canary: kept, with its series at 0, and nothing added to the history", async () => {
    const s = await start("3");
    await runMany(s, 30);
    const [report] = await s.engine.canaries.analyse();
    expect(report).toMatchObject({ rolledBack: false, verdict: { decision: "keep" } });
    const health = await s.request("GET", "/v1/models/writer/health");
    expect(health.json.canaries.production).toMatchObject({ decision: "keep", canary: { version: "3" } });
    expect((await s.request("GET", "/v1/models/writer/history")).json.items).toHaveLength(2);
    expect(rollbacks((await s.request("GET", "/metrics", { key: null })).text)).toBe("0");
  });
});
