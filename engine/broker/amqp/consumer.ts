import { setTimeout as sleep } from "node:timers/promises";
import type { Channel, ConsumeMessage, RecoveringChannelModel } from "amqplib";
import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { Consumer, Delivery } from "../broker.ts";
import { decodeTask, deliveriesOf } from "./headers.ts";
import type { Publisher } from "./publisher.ts";

/** A delivery handler that may also read the message's headers (the dead-letter queue's does). */
export type AmqpDeliveryHandler = (
  delivery: Delivery,
  headers: Record<string, unknown> | undefined,
) => Promise<void>;

export interface ConsumerOptions {
  readonly connection: RecoveringChannelModel;
  readonly publisher: Publisher;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly maxDeliveries: number;
  readonly logger: Logger;
}

/**
 * Consumes task queues, a channel per queue with a prefetch of the concurrency
 * and one limit over all of them, so no more than `concurrency` deliveries are
 * handled at once. Acks are manual and come after the handler, which has
 * written the state. A channel lost (a broker restart) is opened again once
 * the connection is back; deliveries it held come back from RabbitMQ, counted.
 *
 * Settling: a nack goes back to the queue (RabbitMQ counts it); a nack with a
 * delay goes through a delay queue, carrying its count; the last allowed
 * delivery that fails is published to the dead-letter queue with its reason,
 * then acked.
 */
export class AmqpConsumer implements Consumer {
  readonly #options: ConsumerOptions;
  readonly #handler: AmqpDeliveryHandler;
  readonly #limit: LimitFunction;
  readonly #channels = new Map<string, { channel: Channel; tag: string }>();
  readonly #inHand = new Set<Promise<void>>();
  #stopped = false;

  constructor(options: ConsumerOptions, handler: AmqpDeliveryHandler) {
    this.#options = options;
    this.#handler = handler;
    this.#limit = pLimit(Math.max(1, options.concurrency));
  }

  async start(): Promise<void> {
    await Promise.all(this.#options.queues.map((queue) => this.#consume(queue)));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    await Promise.all(channels.map(({ channel, tag }) => channel.cancel(tag).catch(() => {})));
    while (this.#inHand.size > 0) await Promise.all(this.#inHand);
    await Promise.all(channels.map(({ channel }) => channel.close().catch(() => {})));
  }

  async #consume(queue: string): Promise<void> {
    const { connection, concurrency, logger } = this.#options;
    const channel = await connection.createChannel();
    channel.on("error", (error) => logger.warn({ err: error, queue }, "RabbitMQ consumer channel error"));
    channel.on("close", () => {
      if (this.#stopped || this.#channels.get(queue)?.channel !== channel) return;
      this.#channels.delete(queue);
      void this.#reconsume(queue);
    });
    await channel.prefetch(Math.max(1, concurrency));
    const { consumerTag } = await channel.consume(queue, (message) => {
      if (message === null) {
        // Cancelled by the server (the queue was deleted): consume again once it is declared.
        void channel.close().catch(() => {});
        return;
      }
      this.#track(this.#limit(() => this.#deliver(channel, queue, message)));
    });
    if (this.#stopped) {
      await channel.close().catch(() => {});
      return;
    }
    this.#channels.set(queue, { channel, tag: consumerTag });
  }

  /** Consumes again after a lost channel, with backoff, until stopped. */
  async #reconsume(queue: string): Promise<void> {
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        await this.#consume(queue);
        this.#options.logger.info({ queue }, "consuming again from RabbitMQ");
        return;
      } catch (error) {
        this.#options.logger.warn({ err: error, queue, attempt }, "cannot consume from RabbitMQ yet");
        await sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  }

  #track(work: Promise<void>): void {
    this.#inHand.add(work);
    void work.finally(() => this.#inHand.delete(work));
  }

  async #deliver(channel: Channel, queue: string, message: ConsumeMessage): Promise<void> {
    const { publisher, maxDeliveries, logger } = this.#options;
    let task: ReturnType<typeof decodeTask>;
    try {
      task = decodeTask(message.content, message.properties.headers);
    } catch (error) {
      logger.error({ err: error, queue }, "not a task message: dead-lettered");
      settle(() => channel.nack(message, false, false));
      return;
    }
    const deliveries = deliveriesOf(message.properties.headers);
    let settled = false;
    const fail = async (reason: string, delayMs: number) => {
      if (deliveries >= maxDeliveries) {
        await publisher.publishDeadLetter(task, reason, deliveries);
        settle(() => channel.ack(message));
      } else if (delayMs > 0) {
        await publisher.publishDelayed([task], delayMs, deliveries);
        settle(() => channel.ack(message));
      } else {
        settle(() => channel.nack(message, false, true));
      }
    };
    const delivery: Delivery = {
      task,
      deliveries,
      ack: async () => {
        if (settled) return;
        settled = true;
        settle(() => channel.ack(message));
      },
      nack: async (options = {}) => {
        if (settled) return;
        settled = true;
        await fail("nacked", options.delayMs ?? 0);
      },
    };
    try {
      await this.#handler(delivery, message.properties.headers);
      if (!settled) await delivery.ack();
    } catch (error) {
      if (settled) return;
      settled = true;
      await fail(error instanceof Error ? error.message : String(error), 0).catch((failure) =>
        logger.warn(
          { err: failure, key: task.key },
          "could not give a failed task back; RabbitMQ will redeliver it",
        ),
      );
    }
  }
}

/**
 * Acks and nacks are fire-and-forget in AMQP. On a channel already closed they
 * throw: the delivery is then back in the queue and comes again, which the
 * Store's conditional transitions make harmless.
 */
function settle(action: () => void): void {
  try {
    action();
  } catch {
    // See above: redelivered.
  }
}
