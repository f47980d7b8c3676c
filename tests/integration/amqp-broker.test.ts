import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import pino from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AmqpBroker, type AmqpBrokerOptions } from "../../engine/broker/amqp/amqp-broker.ts";
import type { Task } from "../../engine/broker/broker.ts";
import { waitFor } from "../contract/broker-contract.ts";
import { AMQP_URL, restartRabbitMq } from "./services.ts";

/** RabbitMQ-only behaviour: the server's delivery limit, worker pools, queues deleted or restarted under us. */

const silent = pino({ level: "silent" });
const opened: AmqpBroker[] = [];
const queues: string[] = [];

function task(route = "transform"): Task {
  const runId = randomUUID();
  return { key: `${runId}/node`, runId, nodeId: "node", route };
}

async function broker(options: Partial<AmqpBrokerOptions> = {}): Promise<{
  broker: AmqpBroker;
  dead: Array<{ task: Task; reason: string; deliveries: number }>;
  prefix: string;
}> {
  const prefix = options.prefix ?? `pflow-test-${randomUUID().slice(0, 8)}`;
  const dead: Array<{ task: Task; reason: string; deliveries: number }> = [];
  const made = new AmqpBroker({
    url: AMQP_URL,
    maxDeliveries: 3,
    onDeadLetter: async (task, reason, deliveries) => {
      dead.push({ task, reason, deliveries });
    },
    logger: silent,
    ...options,
    prefix,
  });
  await made.start();
  opened.push(made);
  queues.push(
    `${prefix}.dead-letters`,
    ...(options.queues ?? [{ queue: "default" }]).map((q) => `${prefix}.tasks.${q.queue}`),
  );
  return { broker: made, dead, prefix };
}

afterEach(async () => {
  for (const each of opened.splice(0)) await each.close();
});

afterAll(async () => {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  for (const queue of new Set(queues)) await channel.deleteQueue(queue);
  await connection.close();
});

describe("RabbitMQ broker", () => {
  it("dead-letters, with the server's delivery limit, a task whose workers keep dying while they hold it", async () => {
    const { broker: made, dead, prefix } = await broker();
    const poison = task();
    await made.publish([poison]);
    // A worker that dies holding the task: its connection drops without an ack, three times.
    for (let death = 1; death <= 3; death++) {
      const connection = await amqp.connect(AMQP_URL);
      connection.on("error", () => {});
      const channel = await connection.createChannel();
      await channel.prefetch(1);
      const got = new Promise<void>((resolve) => {
        void channel.consume(`${prefix}.tasks.default`, (message) => {
          if (message) resolve();
        });
      });
      await got;
      (connection.connection as unknown as { stream: { destroy(): void } }).stream.destroy();
    }
    await waitFor(() => dead.length === 1, "the dead letter");
    expect(dead[0]?.task).toEqual(poison);
    expect(dead[0]?.deliveries).toBe(3);
    expect(dead[0]?.reason).toMatch(/delivery limit/);
    await waitFor(async () => (await made.depth()) === 0, "an empty queue");
  });

  it("routes tasks to worker pools by route, and a process consumes only its pools", async () => {
    const pools = [
      { queue: "writers", routes: ["model.listing-writer", "model.summary-*"] },
      { queue: "default", routes: ["*"] },
    ];
    const { broker: publisher, prefix } = await broker({ queues: pools });
    const { broker: writers } = await broker({ queues: pools, prefix, consumeFrom: ["writers"] });
    const seen: string[] = [];
    await writers.consume(
      async (delivery) => {
        seen.push(delivery.task.route);
      },
      { concurrency: 2 },
    );
    await publisher.publish([task("model.listing-writer"), task("model.summary-v2"), task("transform")]);
    await waitFor(() => seen.length === 2, "the writers' tasks");
    await waitFor(async () => (await publisher.depth()) === 1, "the other task left for the default pool");
    expect(seen.sort()).toEqual(["model.listing-writer", "model.summary-v2"]);
  });

  it("refuses to consume from a pool that does not exist", () => {
    expect(
      () =>
        new AmqpBroker({
          url: AMQP_URL,
          maxDeliveries: 3,
          onDeadLetter: async () => {},
          logger: silent,
          consumeFrom: ["gpu"],
        }),
    ).toThrow('no queue "gpu" to consume from: the queues are default');
  });

  it("declares a task queue again when it was deleted under a running broker", async () => {
    const { broker: made, prefix } = await broker();
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    await channel.deleteQueue(`${prefix}.tasks.default`);
    await connection.close();
    await made.publish([task()]);
    await waitFor(async () => (await made.depth()) === 1, "the task, in the queue declared again");
  });

  it("fails start() with the reason when RabbitMQ cannot be reached", async () => {
    const unreachable = new AmqpBroker({
      url: "amqp://guest:guest@127.0.0.1:1",
      maxDeliveries: 3,
      onDeadLetter: async () => {},
      logger: silent,
      initialRetries: 1,
    });
    await expect(unreachable.start()).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("RabbitMQ broker across a RabbitMQ restart", () => {
  it("publishers and consumers recover, and nothing published is lost", async () => {
    const { broker: made } = await broker();
    const seen = new Set<string>();
    await made.consume(
      async (delivery) => {
        seen.add(delivery.task.key);
      },
      { concurrency: 4 },
    );
    const before = [task(), task()];
    await made.publish(before);
    await waitFor(() => seen.size === 2, "deliveries before the restart");
    restartRabbitMq();
    const after = [task(), task(), task()];
    await made.publish(after);
    await waitFor(() => seen.size === 5, "deliveries after the restart", 30_000);
    await expect(made.ping()).resolves.toBeUndefined();
  });

  it("delta subscriptions come back by themselves: deltas flow again once RabbitMQ is back", async () => {
    const { broker: made } = await broker();
    const runId = randomUUID();
    const received: string[] = [];
    await made.subscribeDeltas(runId, (delta) => received.push(delta.text));
    const delta = (text: string) => ({ runId, nodeId: "draft", item: null, attempt: 1, offset: 0, text });
    await made.publishDeltas([delta("before")]);
    await waitFor(() => received.includes("before"), "a delta before the restart");
    restartRabbitMq();
    // At most once: deltas published while the connection is down are lost, so keep publishing.
    await waitFor(
      async () => {
        await made.publishDeltas([delta("after")]);
        return received.includes("after");
      },
      "a delta after the restart",
      30_000,
    );
  });
});
