import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker, Consumer, DeadLetterHandler, Delivery, Task } from "../../engine/broker/broker.ts";
import { describeDeltaContract } from "./broker-deltas.ts";
import { waitFor } from "./wait-for.ts";

/**
 * The Broker contract: what every Broker adapter (in-process, RabbitMQ) must do,
 * tested only through the port, in real time. Each test makes its own broker
 * (`makeBroker` must give it its own queue), and waits by polling with generous
 * timeouts: no assertion depends on something happening within a tight time,
 * only on something not happening before a delay (timers never fire early).
 */

const DELAY_MS = 250;
/** Timers may fire a millisecond or two early against a wall clock: allow a little. */
const EARLY_TOLERANCE_MS = 20;
/** How long "is not delivered again" is watched. */
const QUIET_MS = 400;

export { waitFor };

interface DeadLettered {
  readonly task: Task;
  readonly reason: string;
  readonly deliveries: number;
}

interface Received {
  readonly key: string;
  readonly deliveries: number;
  readonly at: number;
}

function task(label = "node"): Task {
  const runId = randomUUID();
  return { key: `${runId}/${label}`, runId, nodeId: label, route: "default" };
}

function tasks(count: number): Task[] {
  return Array.from({ length: count }, (_, index) => task(`node-${index}`));
}

/** A gate a handler awaits until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/**
 * Makes a broker with its own queues. Brokers made with the same `deployment`
 * are processes of one deployment: they share queues and deltas.
 */
export type BrokerFactory = (
  onDeadLetter: DeadLetterHandler,
  maxDeliveries: number,
  deployment: string,
) => Broker;

export function describeBrokerContract(name: string, makeBroker: BrokerFactory): void {
  describeDeltaContract(name, makeBroker);
  describe(`Broker contract: ${name}`, { timeout: 30_000 }, () => {
    const brokers: Broker[] = [];
    const gates: Array<() => void> = [];

    afterEach(async () => {
      for (const open of gates.splice(0)) open();
      for (const broker of brokers.splice(0)) await broker.close();
    });

    async function open(maxDeliveries = 5): Promise<{ broker: Broker; deadLetters: DeadLettered[] }> {
      const deadLetters: DeadLettered[] = [];
      const broker = makeBroker(
        async (task, reason, deliveries) => {
          deadLetters.push({ task, reason, deliveries });
        },
        maxDeliveries,
        randomUUID(),
      );
      await broker.start();
      brokers.push(broker);
      return { broker, deadLetters };
    }

    function opened(): { wait: Promise<void>; open: () => void } {
      const g = gate();
      gates.push(g.open);
      return g;
    }

    /** A consumer that records every delivery, then settles it with `settle` (ack by default). */
    async function recording(
      broker: Broker,
      settle: (delivery: Delivery) => Promise<void> = (delivery) => delivery.ack(),
      concurrency = 4,
    ): Promise<{ received: Received[]; consumer: Consumer }> {
      const received: Received[] = [];
      const consumer = await broker.consume(
        async (delivery) => {
          received.push({ key: delivery.task.key, deliveries: delivery.deliveries, at: performance.now() });
          await settle(delivery);
        },
        { concurrency },
      );
      return { received, consumer };
    }

    it("ping answers once started", async () => {
      const { broker } = await open();
      await expect(broker.ping()).resolves.toBeUndefined();
    });

    it("delivers every published task, once when acked, with the task as published", async () => {
      const { broker } = await open();
      const published = tasks(10);
      const { received } = await recording(broker);
      await broker.publish(published.slice(0, 4));
      await broker.publish(published.slice(4));
      await waitFor(() => received.length >= 10, "10 deliveries");
      await sleep(QUIET_MS);
      expect(received.map((each) => each.key).sort()).toEqual(published.map((each) => each.key).sort());
      expect(received.every((each) => each.deliveries === 1)).toBe(true);
      await waitFor(async () => (await broker.depth()) === 0, "an empty queue");
    });

    it("delivers each task to one consumer only when several consume", async () => {
      const { broker } = await open();
      const published = tasks(20);
      const first = await recording(
        broker,
        async (delivery) => {
          await sleep(5);
          await delivery.ack();
        },
        2,
      );
      const second = await recording(
        broker,
        async (delivery) => {
          await sleep(5);
          await delivery.ack();
        },
        2,
      );
      await broker.publish(published);
      await broker.publish([]);
      const all = () => [...first.received, ...second.received];
      await waitFor(() => all().length >= 20, "20 deliveries");
      await sleep(QUIET_MS);
      expect(
        all()
          .map((each) => each.key)
          .sort(),
      ).toEqual(published.map((each) => each.key).sort());
    });

    it("hands the handler the task itself", async () => {
      const { broker } = await open();
      const seen: Task[] = [];
      await broker.consume(
        async (delivery) => {
          seen.push(delivery.task);
          await delivery.ack();
        },
        { concurrency: 1 },
      );
      const one = task("draft");
      await broker.publish([one]);
      await waitFor(() => seen.length === 1, "the delivery");
      expect(seen[0]).toEqual(one);
    });

    it("delivers tasks published before anyone consumes", async () => {
      const { broker } = await open();
      const published = tasks(3);
      await broker.publish(published);
      const { received } = await recording(broker);
      await waitFor(() => received.length >= 3, "3 deliveries");
      expect(received.map((each) => each.key).sort()).toEqual(published.map((each) => each.key).sort());
    });

    it("never has more deliveries in hand than the concurrency", async () => {
      const { broker } = await open();
      let inFlight = 0;
      let most = 0;
      let done = 0;
      await broker.consume(
        async (delivery) => {
          inFlight++;
          most = Math.max(most, inFlight);
          await sleep(30);
          inFlight--;
          done++;
          await delivery.ack();
        },
        { concurrency: 3 },
      );
      await broker.publish(tasks(15));
      await waitFor(() => done === 15, "15 handled deliveries");
      expect(most).toBeLessThanOrEqual(3);
      expect(most).toBeGreaterThanOrEqual(2);
    });

    it("acks a delivery whose handler returns without settling it", async () => {
      const { broker } = await open();
      const { received } = await recording(broker, async () => {});
      await broker.publish([task()]);
      await waitFor(() => received.length === 1, "the delivery");
      await sleep(QUIET_MS);
      expect(received).toHaveLength(1);
      await waitFor(async () => (await broker.depth()) === 0, "an empty queue");
    });

    it("redelivers a nacked task, counting its deliveries", async () => {
      const { broker, deadLetters } = await open();
      const one = task();
      const { received } = await recording(broker, (delivery) =>
        delivery.deliveries < 3 ? delivery.nack() : delivery.ack(),
      );
      await broker.publish([one]);
      await waitFor(() => received.length === 3, "3 deliveries");
      await sleep(QUIET_MS);
      expect(received.map((each) => [each.key, each.deliveries])).toEqual([
        [one.key, 1],
        [one.key, 2],
        [one.key, 3],
      ]);
      expect(deadLetters).toEqual([]);
    });

    it("does not redeliver a task nacked with a delay before the delay, and holds no slot meanwhile", async () => {
      const { broker } = await open();
      const retried = task("retried");
      const other = task("other");
      let nackedAt = 0;
      const { received } = await recording(
        broker,
        async (delivery) => {
          if (delivery.task.key === retried.key && delivery.deliveries === 1) {
            nackedAt = performance.now();
            await delivery.nack({ delayMs: DELAY_MS });
          } else {
            await delivery.ack();
          }
        },
        1,
      );
      await broker.publish([retried]);
      await waitFor(() => nackedAt > 0, "the first delivery");
      await broker.publish([other]);
      await waitFor(() => received.length === 3, "the retry");
      const again = received.find((each) => each.key === retried.key && each.deliveries === 2);
      expect(again?.at).toBeGreaterThanOrEqual(nackedAt + DELAY_MS - EARLY_TOLERANCE_MS);
      // With a concurrency of 1, the other task went through while the retry waited.
      expect(received.map((each) => each.key)).toEqual([retried.key, other.key, retried.key]);
    });

    it("redelivers a task whose handler throws", async () => {
      const { broker } = await open();
      const one = task();
      const { received } = await recording(broker, async (delivery) => {
        if (delivery.deliveries === 1) throw new Error("the handler failed");
        await delivery.ack();
      });
      await broker.publish([one]);
      await waitFor(() => received.length === 2, "the redelivery");
      await sleep(QUIET_MS);
      expect(received.map((each) => each.deliveries)).toEqual([1, 2]);
    });

    it("dead-letters a task after maxDeliveries, with its delivery count, and delivers it no more", async () => {
      const { broker, deadLetters } = await open(3);
      const nacked = task("nacked");
      const throwing = task("throwing");
      const fine = task("fine");
      const { received } = await recording(broker, async (delivery) => {
        if (delivery.task.key === fine.key) return delivery.ack();
        if (delivery.task.key === throwing.key) throw new Error("boom");
        return delivery.nack();
      });
      await broker.publish([nacked, throwing, fine]);
      await waitFor(() => deadLetters.length === 2, "2 dead letters");
      await sleep(QUIET_MS);

      const deliveriesOf = (one: Task) =>
        received.filter((each) => each.key === one.key).map((each) => each.deliveries);
      expect(deliveriesOf(nacked)).toEqual([1, 2, 3]);
      expect(deliveriesOf(throwing)).toEqual([1, 2, 3]);
      expect(deliveriesOf(fine)).toEqual([1]);
      const dead = [...deadLetters].sort((a, b) => (a.task.nodeId < b.task.nodeId ? -1 : 1));
      expect(dead.map((each) => [each.task, each.deliveries])).toEqual([
        [nacked, 3],
        [throwing, 3],
      ]);
      for (const each of dead) expect(typeof each.reason).toBe("string");
      await waitFor(async () => (await broker.depth()) === 0, "an empty queue");
    });

    it("delays a task published with delayMs, and not the others", async () => {
      const { broker } = await open();
      const { received } = await recording(broker);
      const later = task("later");
      const now = task("now");
      const publishedAt = performance.now();
      await broker.publish([later], { delayMs: DELAY_MS });
      await broker.publish([now]);
      await waitFor(() => received.length === 2, "both deliveries");
      expect(received.map((each) => each.key)).toEqual([now.key, later.key]);
      expect(received[1]?.at).toBeGreaterThanOrEqual(publishedAt + DELAY_MS - EARLY_TOLERANCE_MS);
    });

    it("counts the tasks waiting for delivery in depth()", async () => {
      const { broker } = await open();
      expect(await broker.depth()).toBe(0);
      await broker.publish(tasks(3));
      await waitFor(async () => (await broker.depth()) === 3, "a depth of 3");
      const { received } = await recording(broker);
      await waitFor(() => received.length === 3, "3 deliveries");
      await waitFor(async () => (await broker.depth()) === 0, "an empty queue");
    });

    it("consumer.stop() takes no new deliveries and resolves once those in hand are settled", async () => {
      const { broker } = await open();
      const release = opened();
      let acked = 0;
      const { received, consumer } = await recording(
        broker,
        async (delivery) => {
          await release.wait;
          await delivery.ack();
          acked++;
        },
        2,
      );
      await broker.publish(tasks(4));
      await waitFor(() => received.length === 2, "2 deliveries in hand");

      let stopped = false;
      const stopping = consumer.stop().then(() => {
        stopped = true;
      });
      await sleep(QUIET_MS);
      expect(stopped).toBe(false);
      release.open();
      await stopping;
      expect(acked).toBe(2);

      await broker.publish(tasks(1));
      await sleep(QUIET_MS);
      expect(received).toHaveLength(2);
      await waitFor(async () => (await broker.depth()) === 3, "3 tasks left waiting");

      // They were kept for the next consumer.
      const next = await recording(broker);
      await waitFor(() => next.received.length === 3, "the rest, to another consumer");
    });

    it("close() stops every delivery, delayed ones included", async () => {
      const { broker } = await open();
      const { received } = await recording(broker);
      await broker.publish([task("first")]);
      await waitFor(() => received.length === 1, "the first delivery");
      await broker.publish([task("delayed")], { delayMs: DELAY_MS });
      brokers.splice(brokers.indexOf(broker), 1);
      await broker.close();
      await sleep(DELAY_MS + QUIET_MS);
      expect(received.map((each) => each.key.split("/")[1])).toEqual(["first"]);
    });
  });
}
