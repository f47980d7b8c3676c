import amqp from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { derivedRunId } from "../../engine/triggers/run-ids.ts";
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

async function start(): Promise<{ cluster: Cluster; exchange: string }> {
  const exchange = `pflow-test-listings-${Date.now().toString(36)}`;
  const started = await Cluster.start(DEFINITIONS.replace("EXCHANGE", exchange));
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

    const letters = await c.store.triggers.listTriggerDeadLetters(10);
    expect(letters.map((letter) => letter.messageId).sort()).toEqual(["bad-input", null].sort());
    // The trigger's dead-letter queue holds both, with the reason.
    const dead: string[] = [];
    for (;;) {
      const message = await channel.get(`${queue}.dead`, { noAck: true });
      if (message === false) break;
      dead.push(String(message.properties.headers?.["x-pflow-reason"]));
    }
    expect(dead).toHaveLength(2);
    expect(dead.some((reason) => reason.startsWith("the message has no messageId"))).toBe(true);
    expect(dead.some((reason) => reason.includes("does not fit the inputs schema"))).toBe(true);
    await connection.close();
  });
});
