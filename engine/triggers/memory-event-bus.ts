import { setTimeout as sleep } from "node:timers/promises";
import pLimit from "p-limit";
import type {
  EventBinding,
  EventBus,
  EventHandler,
  EventMessage,
  EventSubscription,
  PublishedEvent,
} from "./event-bus.ts";
import { topicMatches } from "./event-bus.ts";

/**
 * The in-process EventBus of the embedded default: exchanges and queues in
 * memory, routed as RabbitMQ's topic exchanges route. A queue keeps its
 * messages while no one consumes it (a paused trigger) for as long as the
 * process lives; nothing survives a restart: the embedded default is for one
 * machine, local use and tests (POST /v1/events publishes here).
 */
interface Queue {
  readonly binding: EventBinding;
  readonly pending: EventMessage[];
  readonly dead: { message: EventMessage; reason: string }[];
  consumer: { handler: EventHandler; limit: ReturnType<typeof pLimit> } | null;
}

/** A handler that throws gets its message again after this pause. */
const REDELIVERY_PAUSE_MS = 1_000;

export class MemoryEventBus implements EventBus {
  readonly #queues = new Map<string, Queue>();
  readonly #inHand = new Set<Promise<void>>();
  #closed = false;

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    for (const queue of this.#queues.values()) queue.consumer = null;
    while (this.#inHand.size > 0) await Promise.all(this.#inHand);
  }

  async subscribe(binding: EventBinding, handler: EventHandler): Promise<EventSubscription> {
    let queue = this.#queues.get(binding.queue);
    if (!queue) {
      queue = { binding, pending: [], dead: [], consumer: null };
      this.#queues.set(binding.queue, queue);
    }
    const consumer = { handler, limit: pLimit(Math.max(1, binding.prefetch)) };
    queue.consumer = consumer;
    const subscribed = queue;
    this.#drain(subscribed);
    return {
      close: async () => {
        if (subscribed.consumer === consumer) subscribed.consumer = null;
        await Promise.all([...this.#inHand]);
      },
    };
  }

  async publish(exchange: string, routingKey: string, event: PublishedEvent): Promise<void> {
    const message: EventMessage = {
      body: event.body,
      contentType: event.contentType ?? null,
      headers: { ...event.headers },
      routingKey,
      messageId: event.messageId ?? null,
    };
    for (const queue of this.#queues.values()) {
      if (queue.binding.exchange !== exchange || !topicMatches(queue.binding.routingKey, routingKey))
        continue;
      queue.pending.push(message);
      this.#drain(queue);
    }
  }

  /** The messages dead-lettered from a queue, with their reasons (for tests). */
  deadLetters(queue: string): readonly { message: EventMessage; reason: string }[] {
    return this.#queues.get(queue)?.dead ?? [];
  }

  #drain(queue: Queue): void {
    const consumer = queue.consumer;
    if (!consumer || this.#closed) return;
    while (queue.pending.length > 0 && queue.consumer === consumer) {
      const message = queue.pending.shift() as EventMessage;
      const work = consumer.limit(() => this.#deliver(queue, consumer.handler, message));
      this.#inHand.add(work);
      void work.finally(() => this.#inHand.delete(work));
    }
  }

  async #deliver(queue: Queue, handler: EventHandler, message: EventMessage): Promise<void> {
    try {
      const outcome = await handler(message);
      if ("deadLetter" in outcome) queue.dead.push({ message, reason: outcome.deadLetter });
    } catch {
      await sleep(REDELIVERY_PAUSE_MS);
      queue.pending.push(message);
      this.#drain(queue);
    }
  }
}
