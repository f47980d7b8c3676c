import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AmqpEventBus } from "../../engine/triggers/amqp-event-bus.ts";
import type { EventMessage } from "../../engine/triggers/event-bus.ts";
import { waitFor } from "../contract/wait-for.ts";
import { AMQP_URL } from "./services.ts";

/** The RabbitMQ EventBus of event triggers, against a real RabbitMQ. */
const logger = pino({ level: "silent" });
let bus: AmqpEventBus | undefined;
const made: { queues: string[]; exchanges: string[] } = { queues: [], exchanges: [] };

afterEach(async () => {
  await bus?.close();
  bus = undefined;
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  for (const queue of made.queues.splice(0)) await channel.deleteQueue(queue);
  for (const exchange of made.exchanges.splice(0)) await channel.deleteExchange(exchange);
  await connection.close();
});

function names() {
  const id = randomUUID().slice(0, 8);
  const exchange = `pflow-test-events-${id}`;
  const queue = `pflow-test.trigger.flow-${id}.event-1`;
  made.exchanges.push(exchange);
  made.queues.push(queue, `${queue}.dead`);
  return { exchange, queue };
}

describe("AmqpEventBus", () => {
  it("declares a durable topic exchange and the trigger's queue; delivers what the binding matches, with its message id", async () => {
    bus = new AmqpEventBus({ url: AMQP_URL, logger });
    await bus.start();
    const { exchange, queue } = names();
    const got: EventMessage[] = [];
    await bus.subscribe({ exchange, routingKey: "listing.*", queue, prefetch: 2 }, async (message) => {
      got.push(message);
      return { ack: true };
    });
    await bus.publish(exchange, "listing.created", {
      body: '{"id":1}',
      messageId: "m-1",
      headers: { "x-a": "b" },
    });
    await bus.publish(exchange, "order.created", { body: "{}", messageId: "m-2" });
    await bus.publish(exchange, "listing.sold", { body: "text" });
    await waitFor(() => got.length === 2, "two messages");
    expect(got.map((m) => [m.routingKey, m.messageId, m.body])).toEqual([
      ["listing.created", "m-1", '{"id":1}'],
      ["listing.sold", null, "text"],
    ]);
    expect(got[0]?.headers).toMatchObject({ "x-a": "b" });
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    await expect(channel.checkExchange(exchange)).resolves.toBeDefined();
    expect((await channel.checkQueue(queue)).consumerCount).toBe(1);
    await connection.close();
  });

  it("redelivers a message whose handler threw; dead-letters one it refuses, with the reason", async () => {
    bus = new AmqpEventBus({ url: AMQP_URL, logger });
    await bus.start();
    const { exchange, queue } = names();
    let throws = 1;
    const seen: string[] = [];
    await bus.subscribe({ exchange, routingKey: "#", queue, prefetch: 4 }, async (message) => {
      seen.push(message.messageId ?? "none");
      if (message.messageId === "flaky" && throws-- > 0) throw new Error("store down");
      if (message.messageId === "bad") return { deadLetter: "the input does not fit" };
      return { ack: true };
    });
    await bus.publish(exchange, "a", { body: "1", messageId: "flaky" });
    await bus.publish(exchange, "a", { body: "2", messageId: "bad" });
    await waitFor(() => seen.filter((id) => id === "flaky").length === 2, "the redelivery", 15_000);
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    let dead: amqp.GetMessage | false = false;
    await waitFor(async () => {
      dead = await channel.get(`${queue}.dead`, { noAck: true });
      return dead !== false;
    }, "the dead letter");
    const letter = dead as unknown as amqp.GetMessage;
    expect(letter.content.toString()).toBe("2");
    expect(letter.properties.messageId).toBe("bad");
    expect(letter.properties.headers?.["x-pflow-reason"]).toBe("the input does not fit");
    await connection.close();
  });

  it("refuses to subscribe to an exchange that exists with another type", async () => {
    bus = new AmqpEventBus({ url: AMQP_URL, logger });
    await bus.start();
    const { exchange, queue } = names();
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, "direct", { durable: true });
    await connection.close();
    await expect(
      bus.subscribe({ exchange, routingKey: "a", queue, prefetch: 1 }, async () => ({ ack: true })),
    ).rejects.toThrow(/PRECONDITION_FAILED|inequivalent arg 'type'/);
  });
});
