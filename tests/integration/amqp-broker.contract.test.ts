import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import pino from "pino";
import { afterAll } from "vitest";
import { AmqpBroker } from "../../engine/broker/amqp/amqp-broker.ts";
import { describeBrokerContract } from "../contract/broker-contract.ts";
import { AMQP_URL } from "./services.ts";

/** Each deployment's brokers on queues of its own prefix, deleted afterwards. */
const prefixes = new Map<string, string>();

describeBrokerContract("RabbitMQ", (onDeadLetter, maxDeliveries, deployment) => {
  const prefix = prefixes.get(deployment) ?? `pflow-test-${randomUUID().slice(0, 8)}`;
  prefixes.set(deployment, prefix);
  return new AmqpBroker({
    url: AMQP_URL,
    maxDeliveries,
    onDeadLetter,
    prefix,
    logger: pino({ level: "silent" }),
  });
});

afterAll(async () => {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  for (const prefix of prefixes.values()) {
    await channel.deleteQueue(`${prefix}.tasks.default`);
    await channel.deleteQueue(`${prefix}.dead-letters`);
    await channel.deleteExchange(`${prefix}.deltas`);
  }
  await connection.close();
});
