import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker, NodeDelta } from "../../engine/broker/broker.ts";
import type { BrokerFactory } from "./broker-contract.ts";
import { waitFor } from "./wait-for.ts";

/**
 * The delta part of the Broker contract: deltas reach every subscriber of
 * their run (in every process of a deployment), in the order they were
 * published, and no one else; nothing is kept for later subscribers. Brokers
 * made with the same `deployment` are processes of one deployment (the
 * in-process adapter, having no other processes, returns the same broker).
 */

/** How long "is not delivered" is watched. */
const QUIET_MS = 400;

function deltasOf(runId: string, count: number, nodeId = "draft"): NodeDelta[] {
  let offset = 0;
  return Array.from({ length: count }, (_, index) => {
    const text = `piece ${index} `;
    const delta = { runId, nodeId, item: null, attempt: 1, offset, text };
    offset += text.length;
    return delta;
  });
}

export function describeDeltaContract(name: string, makeBroker: BrokerFactory): void {
  describe(`Broker contract, deltas: ${name}`, { timeout: 30_000 }, () => {
    const brokers: Broker[] = [];

    afterEach(async () => {
      for (const broker of brokers.splice(0)) await broker.close();
    });

    async function open(deployment: string): Promise<Broker> {
      const broker = makeBroker(async () => {}, 5, deployment);
      await broker.start();
      brokers.push(broker);
      return broker;
    }

    /** A subscription that records what it receives. */
    async function listen(broker: Broker, runId: string) {
      const received: NodeDelta[] = [];
      const subscription = await broker.subscribeDeltas(runId, (delta) => received.push(delta));
      return { received, subscription };
    }

    it("delivers a run's deltas to its subscriber, in order and as published", async () => {
      const broker = await open(randomUUID());
      const runId = randomUUID();
      const { received } = await listen(broker, runId);
      const published = deltasOf(runId, 50);
      await broker.publishDeltas(published.slice(0, 10));
      for (const delta of published.slice(10)) await broker.publishDeltas([delta]);
      await waitFor(() => received.length >= 50, "50 deltas");
      expect(received).toEqual(published);
    });

    it("keeps deltas of map items and retried attempts apart by their fields", async () => {
      const broker = await open(randomUUID());
      const runId = randomUUID();
      const { received } = await listen(broker, runId);
      const published: NodeDelta[] = [
        { runId, nodeId: "rooms", item: 0, attempt: 1, offset: 0, text: "Kitchen" },
        { runId, nodeId: "rooms", item: 3, attempt: 2, offset: 0, text: "Bath «room» ✓" },
      ];
      await broker.publishDeltas(published);
      await waitFor(() => received.length >= 2, "2 deltas");
      expect(received).toEqual(published);
    });

    it("delivers only the deltas of the runs subscribed to", async () => {
      const broker = await open(randomUUID());
      const [followed, other] = [randomUUID(), randomUUID()];
      const { received } = await listen(broker, followed);
      await broker.publishDeltas([...deltasOf(other, 3), ...deltasOf(followed, 2), ...deltasOf(other, 3)]);
      await waitFor(() => received.length >= 2, "the followed run's deltas");
      await sleep(QUIET_MS);
      expect(received).toEqual(deltasOf(followed, 2));
    });

    it("delivers to every subscriber of the run, in another process of the deployment too", async () => {
      const deployment = randomUUID();
      const worker = await open(deployment);
      const api = await open(deployment);
      const runId = randomUUID();
      const here = await listen(worker, runId);
      const there = await listen(api, runId);
      const again = await listen(api, runId);
      const published = deltasOf(runId, 20);
      await worker.publishDeltas(published);
      await waitFor(
        () => [here, there, again].every(({ received }) => received.length >= 20),
        "20 deltas for each subscriber",
      );
      for (const { received } of [here, there, again]) expect(received).toEqual(published);
    });

    it("does not reach another deployment", async () => {
      const runId = randomUUID();
      const theirs = await listen(await open(randomUUID()), runId);
      const ours = await listen(await open(randomUUID()), runId);
      const mine = brokers.at(-1) as Broker;
      await mine.publishDeltas(deltasOf(runId, 3));
      await waitFor(() => ours.received.length >= 3, "our deltas");
      await sleep(QUIET_MS);
      expect(theirs.received).toEqual([]);
    });

    it("stops delivering to a closed subscription, and keeps delivering to the others", async () => {
      const broker = await open(randomUUID());
      const runId = randomUUID();
      const leaving = await listen(broker, runId);
      const staying = await listen(broker, runId);
      await leaving.subscription.close();
      await broker.publishDeltas(deltasOf(runId, 3));
      await waitFor(() => staying.received.length >= 3, "the staying subscriber's deltas");
      await sleep(QUIET_MS);
      expect(leaving.received).toEqual([]);
    });

    it("keeps nothing for later: deltas published before a subscription are not replayed", async () => {
      const broker = await open(randomUUID());
      const runId = randomUUID();
      await expect(broker.publishDeltas(deltasOf(runId, 3))).resolves.toBeUndefined();
      const { received } = await listen(broker, runId);
      const later = deltasOf(runId, 1, "polish");
      await broker.publishDeltas(later);
      await waitFor(() => received.length >= 1, "the later delta");
      await sleep(QUIET_MS);
      expect(received).toEqual(later);
    });

    it("lets one listener's failure not stop the delivery to the others", async () => {
      const broker = await open(randomUUID());
      const runId = randomUUID();
      await broker.subscribeDeltas(runId, () => {
        throw new Error("a broken listener");
      });
      const { received } = await listen(broker, runId);
      await broker.publishDeltas(deltasOf(runId, 3));
      await waitFor(() => received.length >= 3, "3 deltas despite the broken listener");
      expect(received).toEqual(deltasOf(runId, 3));
    });

    it("drops deltas quietly once closed", async () => {
      const broker = await open(randomUUID());
      brokers.splice(brokers.indexOf(broker), 1);
      await broker.close();
      await expect(broker.publishDeltas(deltasOf(randomUUID(), 2))).resolves.toBeUndefined();
    });
  });
}
