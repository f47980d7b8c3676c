import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRoutes } from "../../server/routes/runs.ts";
import { mockModel, workflow } from "../engine/harness.ts";
import { type FakeServer, startFakeServer } from "../engine/providers/fake-openai-server.ts";
import { type TestServer, testServer } from "./harness.ts";

// POST /v1/runs/{id}/cancel and /retry: what each does to a run, and the 409
// for a run whose state does not allow it.

let scorer: FakeServer;
let server: TestServer;

beforeAll(async () => {
  scorer = await startFakeServer();
  server = await testServer({
    definitions: [
      workflow("slow", `    wait: { type: model, model: sleepy }\n`),
      workflow("quick", `    q: { type: transform, expr: "'done'" }\n`),
      workflow(
        "scored",
        `    facts: { type: transform, expr: "{ 'rooms': 3 }" }
    score: { type: model, model: scorer, input: "{{ nodes.facts.output }}", needs: [facts] }
`,
      ),
      mockModel("sleepy", { "1": "response: { ok: true }, latency: 2s" }),
      `apiVersion: pflow/v1\nkind: Model\nmetadata: { name: scorer }\nspec:\n  versions:\n    "1": { provider: http, endpoint: "${scorer.url}/score" }\n`,
    ],
    routes: [runRoutes],
  });
});
afterAll(async () => {
  await server.close();
  await scorer.close();
});

async function startRun(name: string, query = ""): Promise<{ id: string; status: string }> {
  const response = await server.request("POST", `/v1/workflows/${name}/runs${query}`, { body: {} });
  expect([200, 202]).toContain(response.status);
  return response.json;
}

describe("POST /v1/runs/{id}/cancel", () => {
  it("cancels a running run (202); its nodes end cancelled", async () => {
    const { id } = await startRun("slow");
    const response = await server.request("POST", `/v1/runs/${id}/cancel`);
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ id, status: "cancelled" });
    const run = await server.engine.runJson(id);
    expect(run?.status).toBe("cancelled");
    expect(run?.error).toEqual({ code: "cancelled", message: "the run was cancelled" });
    expect(run?.nodes.wait?.status).toBe("cancelled");
  });

  it("answers 409 for a run that already finished, naming its status", async () => {
    const { id } = await startRun("quick", "?wait=5");
    const response = await server.request("POST", `/v1/runs/${id}/cancel`);
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(response.json.detail).toBe(`run ${id} already finished: succeeded`);
  });

  it("answers 404 for an unknown run", async () => {
    const response = await server.request("POST", "/v1/runs/no-such-run/cancel");
    expect(response.status).toBe(404);
    expect(response.json.detail).toBe('no run "no-such-run"');
  });
});

describe("POST /v1/runs/{id}/retry", () => {
  it("reruns a failed run from its failed node (202), keeping what succeeded, until it succeeds", async () => {
    let calls = 0;
    scorer.respond(() => {
      calls++;
      return calls === 1 ? { status: 400, json: { error: "not yet" } } : { json: { score: 0.9 } };
    });
    const failed = await server.request("POST", "/v1/workflows/scored/runs?wait=5", { body: {} });
    expect(failed.json.status).toBe("failed");
    const factsFinished = failed.json.nodes.facts.finishedAt;

    const response = await server.request("POST", `/v1/runs/${failed.json.id}/retry`);
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ id: failed.json.id, status: "running" });

    await server.engine.waitForRun(failed.json.id, 5_000);
    const run = await server.engine.runJson(failed.json.id);
    expect(run?.status).toBe("succeeded");
    expect(run?.nodes.score?.output).toEqual({ score: 0.9 });
    expect(run?.nodes.facts?.finishedAt).toBe(factsFinished);
    expect(scorer.requests.map((request) => request.body)).toEqual([{ rooms: 3 }, { rooms: 3 }]);
  });

  it("reruns a cancelled run", async () => {
    const { id } = await startRun("slow");
    await server.request("POST", `/v1/runs/${id}/cancel`);
    const response = await server.request("POST", `/v1/runs/${id}/retry`);
    expect(response.status).toBe(202);
    expect((await server.engine.services.store.getRun(id))?.status).toBe("running");
    await server.request("POST", `/v1/runs/${id}/cancel`);
  });

  it("answers 409 for a run that succeeded, and for one still running", async () => {
    const done = await startRun("quick", "?wait=5");
    const succeeded = await server.request("POST", `/v1/runs/${done.id}/retry`);
    expect(succeeded.status).toBe(409);
    expect(succeeded.json.detail).toBe(
      `run ${done.id} is succeeded; only failed, cancelled or timed-out runs can be retried`,
    );

    const going = await startRun("slow");
    expect((await server.request("POST", `/v1/runs/${going.id}/retry`)).status).toBe(409);
    await server.request("POST", `/v1/runs/${going.id}/cancel`);
  });

  it("answers 404 for an unknown run", async () => {
    expect((await server.request("POST", "/v1/runs/no-such-run/retry")).status).toBe(404);
  });
});
