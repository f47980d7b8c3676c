import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { webhookSignature } from "../../engine/triggers/webhook.ts";
import { deadLetterRoutes } from "../../server/routes/dead-letters.ts";
import { eventRoutes } from "../../server/routes/events.ts";
import { hookRoutes } from "../../server/routes/hooks.ts";
import { runRoutes } from "../../server/routes/runs.ts";
import { triggerRoutes } from "../../server/routes/triggers.ts";
import { waitFor } from "../contract/wait-for.ts";
import { READER_KEY, type TestServer, testServer, WRITER_KEY } from "./harness.ts";

const SECRET = "whsec-test-0123456789";
const LEADS = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: crm-leads }
spec:
  inputs: { type: object, required: [email], properties: { email: { type: string }, source: { type: [string, "null"] } } }
  triggers:
    - webhook: { name: crm-lead, secret: { env: PFLOW_TEST_CRM_SECRET } }
      input: { email: "{{ body.lead.email }}", source: "{{ headers.'x-crm' }}" }
    - event: { exchange: listings, routingKey: listing.created }
      input: { email: "{{ event.body.owner }}" }
  nodes:
    score: { type: transform, expr: "inputs" }
`;

let server: TestServer;

beforeEach(async () => {
  process.env.PFLOW_TEST_CRM_SECRET = SECRET;
  server = await testServer({
    definitions: [LEADS],
    routes: [runRoutes, deadLetterRoutes, triggerRoutes, hookRoutes, eventRoutes],
  });
  await server.engine.triggers.start({ fire: true });
});

afterEach(async () => {
  await server.close();
  delete process.env.PFLOW_TEST_CRM_SECRET;
});

const runCount = async () =>
  (await server.engine.services.store.listRuns({ workflow: "crm-leads", limit: 100 })).items.length;

/** A webhook call signed as a sender would sign it (or with what `overrides` says). */
function callHook(
  body: string,
  overrides: {
    timestamp?: string;
    signature?: string;
    secret?: string;
    headers?: Record<string, string>;
  } = {},
) {
  const timestamp = overrides.timestamp ?? String(Math.floor(Date.now() / 1000));
  const signature =
    overrides.signature ?? `sha256=${webhookSignature(overrides.secret ?? SECRET, timestamp, body)}`;
  return server.request("POST", "/v1/hooks/crm-lead", {
    raw: body,
    key: null,
    headers: { "x-pflow-timestamp": timestamp, "x-pflow-signature": signature, ...overrides.headers },
  });
}

const LEAD = JSON.stringify({ lead: { email: "ana@example.com" } });

describe("POST /v1/hooks/{name}", () => {
  it("a signed call starts a run with no API key: 202 { id }, the body mapped by the trigger's input", async () => {
    const response = await callHook(LEAD, { headers: { "x-crm": "hubspot" } });
    expect(response.status).toBe(202);
    expect(Object.keys(response.json)).toEqual(["id"]);
    const run = await server.engine.waitForRun(response.json.id, 5_000);
    expect(run?.status).toBe("succeeded");
    expect(run?.input).toEqual({ email: "ana@example.com", source: "hubspot" });
  });

  it("a bad HMAC is 401 and starts nothing", async () => {
    const wrongKey = await callHook(LEAD, { secret: "another-secret" });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.json.detail).toBe("the signature does not match the body and timestamp");
    const tampered = await callHook(LEAD, {
      signature: `sha256=${webhookSignature(SECRET, String(Math.floor(Date.now() / 1000)), "{}")}`,
    });
    expect(tampered.status).toBe(401);
    const malformed = await callHook(LEAD, { signature: "sha256=zz" });
    expect(malformed.status).toBe(401);
    const missing = await server.request("POST", "/v1/hooks/crm-lead", { raw: LEAD, key: null });
    expect(missing.status).toBe(401);
    expect(missing.json.detail).toBe(
      "send X-Pflow-Signature: sha256=<hex> and X-Pflow-Timestamp: <Unix seconds>",
    );
    expect(await runCount()).toBe(0);
  });

  it("a timestamp more than 5 minutes old (or ahead) is 401 and starts nothing, even correctly signed", async () => {
    const old = String(Math.floor(Date.now() / 1000) - 301);
    const response = await callHook(LEAD, { timestamp: old });
    expect(response.status).toBe(401);
    expect(response.json.detail).toMatch(/more than 5 minutes/);
    expect((await callHook(LEAD, { timestamp: String(Math.floor(Date.now() / 1000) + 400) })).status).toBe(
      401,
    );
    expect(await runCount()).toBe(0);
  });

  it("a replayed Idempotency-Key answers with the first run and starts nothing more", async () => {
    const first = await callHook(LEAD, { headers: { "idempotency-key": "lead-42" } });
    expect(first.status).toBe(202);
    const again = await callHook(JSON.stringify({ lead: { email: "other@example.com" } }), {
      headers: { "idempotency-key": "lead-42" },
    });
    expect(again.status).toBe(202);
    expect(again.json.id).toBe(first.json.id);
    expect(await runCount()).toBe(1);
    const run = await server.engine.services.store.getRun(first.json.id);
    expect(run?.input).toEqual({ email: "ana@example.com", source: null });
  });

  it("the same signed request sent twice (a replay within the 5 minutes) is one run", async () => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const first = await callHook(LEAD, { timestamp });
    const replay = await callHook(LEAD, { timestamp });
    expect(replay.json.id).toBe(first.json.id);
    expect(await runCount()).toBe(1);
  });

  it("an unknown hook is 404; a body that is not JSON is 400; an input the workflow refuses is 400 with the reason", async () => {
    const unknown = await server.request("POST", "/v1/hooks/nope", { raw: "{}", key: null });
    expect(unknown.status).toBe(404);
    expect((await callHook("not json")).status).toBe(400);
    const refused = await callHook(JSON.stringify({ lead: {} }));
    expect(refused.status).toBe(400);
    expect(refused.json.detail).toMatch(
      /^the mapped input does not fit the inputs schema of workflow "crm-leads"/,
    );
    expect(await runCount()).toBe(0);
  });

  it("a paused webhook is 409 and starts nothing; a missing secret is 503", async () => {
    expect((await server.request("POST", "/v1/triggers/crm-leads.crm-lead/pause")).status).toBe(200);
    expect((await callHook(LEAD)).status).toBe(409);
    expect((await server.request("POST", "/v1/triggers/crm-leads.crm-lead/resume")).status).toBe(200);
    delete process.env.PFLOW_TEST_CRM_SECRET;
    const unconfigured = await callHook(LEAD);
    expect(unconfigured.status).toBe(503);
    expect(unconfigured.json.detail).toMatch(/set PFLOW_TEST_CRM_SECRET/);
    expect(await runCount()).toBe(0);
  });
});

describe("GET /v1/triggers, pause and resume", () => {
  it("lists each trigger with its state", async () => {
    await callHook(LEAD);
    const response = await server.request("GET", "/v1/triggers", { key: READER_KEY });
    expect(response.status).toBe(200);
    expect(response.json.items).toEqual([
      {
        id: "crm-leads.crm-lead",
        workflow: "crm-leads",
        kind: "webhook",
        paused: false,
        nextFireAt: null,
        lastFireAt: expect.stringMatching(/^\d{4}-/),
        lastRunId: expect.any(String),
        lastError: null,
        lastErrorAt: null,
        fired: 1,
        failed: 0,
        detail: { path: "/v1/hooks/crm-lead" },
      },
      expect.objectContaining({
        id: "crm-leads.event-2",
        kind: "event",
        detail: { exchange: "listings", routingKey: "listing.created" },
      }),
    ]);
  });

  it("pause and resume need the admin scope; an unknown trigger is 404", async () => {
    expect(
      (await server.request("POST", "/v1/triggers/crm-leads.crm-lead/pause", { key: WRITER_KEY })).status,
    ).toBe(403);
    const paused = await server.request("POST", "/v1/triggers/crm-leads.crm-lead/pause");
    expect(paused.json).toMatchObject({ id: "crm-leads.crm-lead", paused: true });
    expect((await server.request("POST", "/v1/triggers/crm-leads.nope/pause")).status).toBe(404);
    expect((await server.request("POST", "/v1/triggers/not-an-id/pause")).status).toBe(400);
  });
});

describe("POST /v1/events/{exchange}/{routingKey} and event dead letters", () => {
  it("publishes to the in-process bus: a message starts one run, even sent twice", async () => {
    const send = () =>
      server.request("POST", "/v1/events/listings/listing.created", {
        key: WRITER_KEY,
        body: { body: { owner: "rui@example.com" }, messageId: "listing-7" },
      });
    expect((await send()).status).toBe(202);
    expect((await send()).json).toEqual({
      exchange: "listings",
      routingKey: "listing.created",
      messageId: "listing-7",
    });
    await waitFor(async () => (await runCount()) === 1, "the run");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await runCount()).toBe(1);
  });

  it("a message without a messageId, and one whose input is refused, are listed under /v1/dead-letters", async () => {
    await server.request("POST", "/v1/events/listings/listing.created", {
      body: { body: { owner: "x@example.com" }, messageId: null },
    });
    await server.request("POST", "/v1/events/listings/listing.created", {
      body: { body: { owner: 42 }, messageId: "bad-owner" },
    });
    await waitFor(
      async () => (await server.request("GET", "/v1/dead-letters")).json.items.length === 2,
      "two dead letters",
    );
    const { items } = (await server.request("GET", "/v1/dead-letters", { key: READER_KEY })).json;
    expect(
      items
        .map((letter: { kind: string; messageId: string | null }) => [letter.kind, letter.messageId])
        .sort(),
    ).toEqual([
      ["event", null],
      ["event", "bad-owner"],
    ]);
    expect(items[0]).toMatchObject({
      trigger: "crm-leads.event-2",
      workflow: "crm-leads",
      routingKey: "listing.created",
    });
    expect(await runCount()).toBe(0);
  });

  it("needs runs:write; a bad routing key is 400", async () => {
    expect(
      (await server.request("POST", "/v1/events/listings/listing.created", { key: READER_KEY, body: {} }))
        .status,
    ).toBe(403);
    expect((await server.request("POST", "/v1/events/listings/bad..key", { body: {} })).status).toBe(400);
  });
});
