import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../server/metrics.ts";
import { opsRoutes } from "../../server/routes/ops.ts";
import { runRoutes } from "../../server/routes/runs.ts";
import { waitRoutes } from "../../server/routes/waits.ts";
import { ADMIN_KEY, READER_KEY, TEST_KEYS, type TestServer, testServer, WRITER_KEY } from "./harness.ts";

// Signals, approvals and the approvals list over HTTP, on a real server.

const APPROVER_KEY = "approver-key-0123456789abcdef";
const KEYS = `${TEST_KEYS};${APPROVER_KEY}:runs:approve`;

const SLOW = `apiVersion: pflow/v1
kind: Model
metadata: { name: slow }
spec:
  versions:
    "1": { provider: mock, latency: 1500ms, response: { ok: true } }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: busy }
spec:
  nodes:
    call: { type: model, model: slow, input: {} }
`;

const LISTING = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: listing }
spec:
  nodes:
    docs:
      type: wait
      signal: documents-uploaded
      schema: { type: object, required: [files], properties: { files: { type: array } } }
    draft: { type: transform, expr: "'Bright two-bedroom flat'", needs: [docs] }
    review: { type: approval, needs: [draft], description: "Check the generated description", timeout: 48h }
    publish: { type: transform, when: "{{ nodes.review.output.approved }}", expr: "nodes.draft.output" }
`;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<{ server: TestServer; runId: string }> {
  const metrics = createMetrics();
  server = await testServer({
    definitions: [LISTING, SLOW],
    routes: [runRoutes, waitRoutes, opsRoutes(metrics)],
    keys: KEYS,
    observer: metrics.observer,
  });
  const started = await server.request("POST", "/v1/workflows/listing/runs", { body: { input: {} } });
  expect(started.status).toBe(202);
  return { server, runId: started.json.id as string };
}

async function nodeStatus(s: TestServer, runId: string, nodeId: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const run = await s.request("GET", `/v1/runs/${runId}`);
    const status = run.json.nodes[nodeId]?.status as string;
    if (status === "waiting" || status === "succeeded" || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function nodeStatusIs(s: TestServer, runId: string, nodeId: string, wanted: string): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await s.request("GET", `/v1/runs/${runId}`)).json.nodes[nodeId]?.status === wanted) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe("POST /v1/runs/{id}/signals/{name}", () => {
  it("202: the wait node takes the data; 400 with the violations and nothing kept; 404 for a name no node waits for", async () => {
    const { server: s, runId } = await start();
    expect(await nodeStatus(s, runId, "docs")).toBe("waiting");
    const view = (await s.request("GET", `/v1/runs/${runId}`)).json;
    expect(view.status).toBe("running");
    expect(view.nodes.docs).toMatchObject({
      status: "waiting",
      waitingFor: "signal",
      signal: "documents-uploaded",
    });

    const bad = await s.request("POST", `/v1/runs/${runId}/signals/documents-uploaded`, {
      key: WRITER_KEY,
      body: { data: { files: "one" } },
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    expect(bad.json.detail).toBe('the signal\'s data does not fit the schema of wait node "docs"');
    expect(bad.json.errors).toEqual([{ path: "/files", message: expect.stringContaining("array") }]);
    expect(await nodeStatus(s, runId, "docs")).toBe("waiting");

    const unknown = await s.request("POST", `/v1/runs/${runId}/signals/uploaded`, { body: { data: {} } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.detail).toContain("its signals are documents-uploaded");
    expect((await s.request("POST", "/v1/runs/nope/signals/uploaded", { body: {} })).status).toBe(404);

    const sent = await s.request("POST", `/v1/runs/${runId}/signals/documents-uploaded`, {
      key: WRITER_KEY,
      body: { data: { files: ["plan.pdf"] } },
    });
    expect(sent.status).toBe(202);
    expect(sent.json).toMatchObject({ runId, name: "documents-uploaded", state: "delivered" });
    expect(await nodeStatus(s, runId, "review")).toBe("waiting");
    const run = (await s.request("GET", `/v1/runs/${runId}`)).json;
    expect(run.nodes.docs).toMatchObject({ status: "succeeded", output: { files: ["plan.pdf"] } });
    const events = (await s.request("GET", `/v1/runs/${runId}/history`)).json.items.map(
      (e: { type: string }) => e.type,
    );
    expect(events).toContain("node.waiting");
  });

  it("an Idempotency-Key gives back the same signal; a reader may not send; an ended run is 409", async () => {
    const { server: s, runId } = await start();
    const send = (key: string) =>
      s.request("POST", `/v1/runs/${runId}/signals/documents-uploaded`, {
        key: WRITER_KEY,
        headers: { "idempotency-key": key },
        body: { data: { files: [] } },
      });
    const first = await send("upload-1");
    const again = await send("upload-1");
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.json.id).toBe(first.json.id);
    const reader = await s.request("POST", `/v1/runs/${runId}/signals/documents-uploaded`, {
      key: READER_KEY,
      body: { data: { files: [] } },
    });
    expect(reader.status).toBe(403);
    expect((await s.request("POST", `/v1/runs/${runId}/cancel`)).status).toBeLessThan(300);
    const late = await send("upload-2");
    expect(late.status).toBe(409);
    expect(late.json.detail).toBe(`run ${runId} has ended (cancelled): it takes no more signals`);
    // The key that was used before still answers with its signal.
    expect((await send("upload-1")).json.id).toBe(first.json.id);
  });
});

describe("approvals", () => {
  async function waitingForReview(): Promise<{ s: TestServer; runId: string }> {
    const { server: s, runId } = await start();
    await s.request("POST", `/v1/runs/${runId}/signals/documents-uploaded`, {
      body: { data: { files: [] } },
    });
    expect(await nodeStatus(s, runId, "review")).toBe("waiting");
    return { s, runId };
  }

  it("403 without runs:approve (runs:write is not enough); 202 with it, by the key's name; 409 when decided twice", async () => {
    const { s, runId } = await waitingForReview();
    const path = `/v1/runs/${runId}/nodes/review/approval`;
    const denied = await s.request("POST", path, { key: WRITER_KEY, body: { approved: true } });
    expect(denied.status).toBe(403);
    expect(denied.json.detail).toBe("this needs the runs:approve scope, which the API key does not have");
    expect(await nodeStatus(s, runId, "review")).toBe("waiting");

    const whoami = (await s.request("GET", "/v1/auth/whoami", { key: APPROVER_KEY })).json;
    const decided = await s.request("POST", path, {
      key: APPROVER_KEY,
      body: { approved: true, comment: "Reads well" },
    });
    expect(decided.status).toBe(202);
    expect(decided.json).toEqual({
      approved: true,
      by: expect.stringMatching(/^[0-9a-f]{12}$/),
      comment: "Reads well",
      at: expect.any(String),
    });
    if (whoami?.name) expect(decided.json.by).toBe(whoami.name);
    const twice = await s.request("POST", path, { key: ADMIN_KEY, body: { approved: false } });
    expect(twice.status).toBe(409);
    expect(twice.json.detail).toContain('node "review" was decided already (approved by');
    const run = await s.engine.waitForRun(runId, 10_000);
    expect(run?.status).toBe("succeeded");
    const view = (await s.request("GET", `/v1/runs/${runId}`)).json;
    expect(view.nodes.review.output).toEqual(decided.json);
    expect(view.nodes.publish).toMatchObject({ status: "succeeded", output: "Bright two-bedroom flat" });
  });

  it("admin implies runs:approve; a node that is no approval is 404; a bad body is 400", async () => {
    const { s, runId } = await waitingForReview();
    expect(
      (await s.request("POST", `/v1/runs/${runId}/nodes/draft/approval`, { body: { approved: true } }))
        .status,
    ).toBe(404);
    expect(
      (await s.request("POST", `/v1/runs/${runId}/nodes/review/approval`, { body: { approved: "yes" } }))
        .status,
    ).toBe(400);
    const rejected = await s.request("POST", `/v1/runs/${runId}/nodes/review/approval`, {
      key: ADMIN_KEY,
      body: { approved: false },
    });
    expect(rejected.status).toBe(202);
    expect(rejected.json).toMatchObject({ approved: false, comment: null });
    await s.engine.waitForRun(runId, 10_000);
    expect((await s.request("GET", `/v1/runs/${runId}`)).json.nodes.publish.status).toBe("skipped");
  });

  it("GET /v1/approvals?status=pending lists what waits for a person, oldest first, by page", async () => {
    const { s, runId } = await waitingForReview();
    const second = (await s.request("POST", "/v1/workflows/listing/runs", { body: { input: {} } })).json.id;
    await s.request("POST", `/v1/runs/${second}/signals/documents-uploaded`, {
      body: { data: { files: [] } },
    });
    expect(await nodeStatus(s, second, "review")).toBe("waiting");
    const page = await s.request("GET", "/v1/approvals?status=pending&limit=1", { key: READER_KEY });
    expect(page.status).toBe(200);
    expect(page.json.items).toEqual([
      {
        runId,
        workflow: { name: "listing", version: 1 },
        nodeId: "review",
        item: null,
        description: "Check the generated description",
        waitingSince: expect.any(String),
        timeoutAt: expect.any(String),
      },
    ]);
    const next = await s.request("GET", `/v1/approvals?status=pending&limit=1&cursor=${page.json.next}`);
    expect(next.json.items.map((i: { runId: string }) => i.runId)).toEqual([second]);
    expect(next.json.next).toBeNull();
    expect((await s.request("GET", "/v1/approvals?status=decided")).status).toBe(400);
  });

  it("/metrics: a waiting run holds no worker slot and no lease (a running node holds one of each)", async () => {
    const { s } = await waitingForReview();
    const text = (await s.request("GET", "/metrics", { key: null })).text;
    expect(text).toMatch(/^pflow_worker_slots_busy 0$/m);
    expect(text).toMatch(/^pflow_leases_held 0$/m);
    const busy = (await s.request("POST", "/v1/workflows/busy/runs", { body: { input: {} } })).json.id;
    expect(await nodeStatusIs(s, busy, "call", "running")).toBe(true);
    const during = (await s.request("GET", "/metrics", { key: null })).text;
    expect(during).toMatch(/^pflow_worker_slots_busy 1$/m);
    expect(during).toMatch(/^pflow_leases_held 1$/m);
  });
});
