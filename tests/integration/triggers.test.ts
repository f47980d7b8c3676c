import amqp from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { derivedRunId } from "../../engine/triggers/run-ids.ts";
import { webhookSignature } from "../../engine/triggers/webhook.ts";
import { Cluster } from "./cluster.ts";
import { AMQP_URL } from "./services.ts";

/**
 * Triggers in the production topology: real `pflow worker` processes on
 * RabbitMQ and the MongoDB-wire server. Cron: two workers, every tick one run.
 * Events: messages published twice and really redelivered (taken and given
 * back unacked, and a worker killed), each one run.
 */
const DEFINITIONS = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: every-two-seconds }
spec:
  triggers:
    - cron: "*/2 * * * * *"
      overlap: allow
      input: { at: "{{ trigger.scheduledAt }}" }
  nodes:
    echo: { type: transform, expr: "inputs" }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: crm-leads }
spec:
  inputs: { type: object, required: [email], properties: { email: { type: string } } }
  triggers:
    - webhook: { name: crm-lead, secret: { env: PFLOW_TEST_CRM_SECRET } }
      input: { email: "{{ body.email }}" }
  nodes:
    echo: { type: transform, expr: "inputs" }
---
apiVersion: pflow/v1
kind: Workflow
metadata: { name: new-listing }
spec:
  inputs: { type: object, required: [listingId], properties: { listingId: { type: string } } }
  triggers:
    - event: { exchange: EXCHANGE, routingKey: "listing.created", prefetch: 4 }
      input: { listingId: "{{ event.body.id }}" }
  nodes:
    echo: { type: transform, expr: "inputs" }
`;

let cluster: Cluster | undefined;
let cleanup: (() => Promise<void>) | undefined;

afterEach(async () => {
  await cluster?.close();
  await cleanup?.();
  cluster = undefined;
  cleanup = undefined;
});

const SECRET = "crm-secret-0123456789";

async function start(): Promise<{ cluster: Cluster; exchange: string }> {
  const exchange = `pflow-test-listings-${Date.now().toString(36)}`;
  const started = await Cluster.start(DEFINITIONS.replace("EXCHANGE", exchange), {
    PFLOW_TEST_CRM_SECRET: SECRET,
  });
  cluster = started;
  const queue = `${started.prefix}.trigger.new-listing.event-1`;
  cleanup = async () => {
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    await channel.deleteQueue(queue);
    await channel.deleteQueue(`${queue}.dead`);
    await channel.deleteExchange(exchange);
    await connection.close();
  };
  return { cluster: started, exchange };
}

describe("cron triggers across processes", () => {
  it("fire exactly once per tick with two worker processes", async () => {
    const { cluster: c } = await start();
    const first = await c.worker();
    const second = await c.worker();
    const runsOf = async () => (await c.store.listRuns({ workflow: "every-two-seconds", limit: 1000 })).items;
    await c.until(async () => ((await runsOf()).length >= 6 ? true : undefined), "six ticks", 60_000);
    // A graceful stop: a tick claimed is a tick started (kill -9 between the two is the recovery test's).
    await Promise.all([c.kill(first, "SIGTERM"), c.kill(second, "SIGTERM")]);
    const runs = await runsOf();
    const ticks = runs.map((run) => Date.parse((run.input as { at: string }).at)).sort((a, b) => a - b);
    expect(new Set(ticks).size).toBe(runs.length); // no tick ran twice
    // Every tick from the first to the last ran: none lost between two processes.
    for (let i = 1; i < ticks.length; i++) expect((ticks[i] as number) - (ticks[i - 1] as number)).toBe(2000);
    for (const run of runs) {
      const tick = Date.parse((run.input as { at: string }).at);
      expect(run.id).toBe(derivedRunId("cron", "every-two-seconds.cron-1", tick));
    }
    const state = await c.store.triggers.getTrigger("every-two-seconds.cron-1");
    expect(state?.fired).toBe(runs.length);
    expect(state?.failed).toBe(0);
  });
});

describe("pausing through the API, and webhooks, across processes", () => {
  it("a pause made through the API process stops the cron of a worker process; resumed, it fires again", async () => {
    const { cluster: c } = await start();
    await c.serve({ workers: false });
    await c.worker();
    const runsOf = async () =>
      (await c.store.listRuns({ workflow: "every-two-seconds", limit: 1000 })).items.length;
    await c.until(async () => ((await runsOf()) >= 1 ? true : undefined), "the first tick");
    const paused = await c.request("/v1/triggers/every-two-seconds.cron-1/pause", { method: "POST" });
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ paused: true, nextFireAt: null });
    const atPause = await runsOf();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    // A tick being fired at the moment of the pause may still land; none after.
    expect(await runsOf()).toBeLessThanOrEqual(atPause + 1);
    const settled = await runsOf();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await runsOf()).toBe(settled);
    expect((await c.request("/v1/triggers/every-two-seconds.cron-1/resume", { method: "POST" })).status).toBe(
      200,
    );
    await c.until(async () => ((await runsOf()) > settled ? true : undefined), "a tick after the resume");
  });

  it("a webhook served by the API process on MongoDB: signed, starts one run per idempotency key; unsigned, none", async () => {
    const { cluster: c } = await start();
    await c.serve();
    const call = async (body: string, headers: Record<string, string>) => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const response = await fetch(`${c.api}/v1/hooks/crm-lead`, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-pflow-timestamp": timestamp,
          "x-pflow-signature": `sha256=${webhookSignature(SECRET, timestamp, body)}`,
          ...headers,
        },
      });
      return { status: response.status, json: (await response.json()) as { id: string } };
    };
    const body = JSON.stringify({ email: "ana@example.com" });
    const first = await call(body, { "idempotency-key": "lead-1" });
    expect(first.status).toBe(202);
    const again = await call(body, { "idempotency-key": "lead-1" });
    expect(again).toEqual(first);
    expect((await call(body, { "x-pflow-signature": "sha256=00" })).status).toBe(401);
    expect(await c.finished(first.json.id)).toBe("succeeded");
    expect((await c.store.listRuns({ workflow: "crm-leads", limit: 10 })).items.map((run) => run.id)).toEqual(
      [first.json.id],
    );
  });
});

describe("event triggers on RabbitMQ", () => {
  it("start one run per message under redelivery and duplicates; dead-letter what cannot start one", async () => {
    const { cluster: c, exchange } = await start();
    const queue = `${c.prefix}.trigger.new-listing.event-1`;
    // The first worker declares the exchange, the trigger's queue and its dead-letter queue, then dies.
    const declarer = await c.worker();
    await c.kill(declarer);

    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createConfirmChannel();
    const publish = (body: unknown, messageId?: string) =>
      new Promise<void>((resolve, reject) =>
        channel.publish(
          exchange,
          "listing.created",
          Buffer.from(JSON.stringify(body)),
          { persistent: true, contentType: "application/json", ...(messageId ? { messageId } : {}) },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    const ids = Array.from({ length: 30 }, (_, i) => `listing-${i}`);
    for (const id of ids) await publish({ id }, id);
    for (const id of ids.slice(0, 10)) await publish({ id }, id); // published twice
    await publish({ id: "no-message-id" });
    await publish({ name: "no id field" }, "bad-input");

    // Really redelivered: taken without an ack, and given back when the channel closes.
    const taker = await connection.createChannel();
    for (let i = 0; i < 5; i++) expect(await taker.get(queue, { noAck: false })).not.toBe(false);
    await taker.close();

    const first = await c.worker();
    await c.worker();
    const runsOf = async () => (await c.store.listRuns({ workflow: "new-listing", limit: 1000 })).items;
    await c.until(async () => ((await runsOf()).length >= 10 ? true : undefined), "the first runs");
    await c.kill(first); // kill -9 while it may hold deliveries: they go to the other worker
    await c.until(
      async () => ((await runsOf()).length >= ids.length ? true : undefined),
      "a run per message",
    );
    await c.until(
      async () => ((await c.store.triggers.listTriggerDeadLetters(10)).length >= 2 ? true : undefined),
      "two dead letters",
    );
    // Let any late redelivery land before counting.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const runs = await runsOf();
    expect(runs.map((run) => run.id).sort()).toEqual(
      ids.map((id) => derivedRunId("event", "new-listing.event-1", id)).sort(),
    );

    // Dead-lettering is at least once too: the killed worker may have recorded a letter
    // but not acked its message, which the other worker then dead-letters again (a
    // message without a messageId under a new letter id: it has none to derive one from).
    const letters = await c.store.triggers.listTriggerDeadLetters(10);
    expect([...new Set(letters.map((letter) => letter.messageId))].sort()).toEqual(
      ["bad-input", null].sort(),
    );
    // The trigger's dead-letter queue holds both, with the reason: polled, as the other
    // worker's own dead-lettering of a redelivered one may still be on its way.
    const dead: string[] = [];
    await c.until(async () => {
      for (;;) {
        const message = await channel.get(`${queue}.dead`, { noAck: true });
        if (message === false) break;
        dead.push(String(message.properties.headers?.["x-pflow-reason"]));
      }
      const noId = dead.some((reason) => reason.startsWith("the message has no messageId"));
      return noId && dead.some((reason) => reason.includes("does not fit the inputs schema"))
        ? true
        : undefined;
    }, "both dead letters in the trigger's dead-letter queue");
    expect(dead.length).toBeGreaterThanOrEqual(2);
    await connection.close();
  });
});
