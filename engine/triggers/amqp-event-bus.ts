import { setTimeout as sleep } from "node:timers/promises";
import amqp, { type ConfirmChannel, type ConsumeMessage, type RecoveringChannelModel } from "amqplib";
import pLimit from "p-limit";
import type { Logger } from "pino";
import { reconnectPolicy } from "../broker/amqp/recovery.ts";
import { ReopeningChannel } from "../broker/amqp/reopening-channel.ts";
import type {
  EventBinding,
  EventBus,
  EventHandler,
  EventMessage,
  EventSubscription,
  PublishedEvent,
} from "./event-bus.ts";

/**
 * Event triggers on RabbitMQ. Each trigger has a durable quorum queue of its
 * own, bound to its exchange (a durable topic exchange, declared if missing)
 * with its routing key, and consumed by every process with a bounded prefetch:
 * competing consumers, so a message goes to one of them at a time.
 *
 * A message the handler refuses for good goes to `<queue>.dead` (a durable
 * quorum queue) with its reason in the `x-pflow-reason` header, published with
 * confirms before the original is acked: lost neither way. A handler that
 * throws (the Store is down) has its message requeued after a pause; one that
 * keeps failing past the delivery limit is dead-lettered by RabbitMQ itself.
 */
export interface AmqpEventBusOptions {
  readonly url: string;
  readonly logger: Logger;
  readonly initialRetries?: number;
}

/** Deliveries of a message before RabbitMQ dead-letters it (the handler kept throwing). */
const DELIVERY_LIMIT = 20;
const REQUEUE_PAUSE_MS = 1_000;

export class AmqpEventBus implements EventBus {
  readonly #options: AmqpEventBusOptions;
  #connection: RecoveringChannelModel | null = null;
  #publisher: ReopeningChannel<ConfirmChannel> | null = null;
  readonly #subscriptions = new Set<AmqpSubscription>();
  readonly #declared = new Set<string>();
  #closed = false;

  constructor(options: AmqpEventBusOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { logger } = this.#options;
    const connection = await amqp.connect(this.#options.url, {
      recovery: reconnectPolicy(this.#options.initialRetries),
    });
    connection.on("disconnect", (error: Error) => {
      this.#publisher?.reset();
      this.#declared.clear();
      if (!this.#closed)
        logger.warn({ err: error }, "RabbitMQ connection of event triggers lost; reconnecting");
    });
    connection.on("error", (error: Error) => logger.warn({ err: error }, "RabbitMQ connection error"));
    this.#connection = connection;
    this.#publisher = new ReopeningChannel(() => connection.createConfirmChannel());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#connection?.close().catch(() => {});
  }

  async subscribe(binding: EventBinding, handler: EventHandler): Promise<EventSubscription> {
    const subscription = new AmqpSubscription(this.#ready(), binding, handler, this.#options.logger);
    await subscription.start();
    this.#subscriptions.add(subscription);
    return {
      close: async () => {
        this.#subscriptions.delete(subscription);
        await subscription.close();
      },
    };
  }

  async publish(exchange: string, routingKey: string, event: PublishedEvent): Promise<void> {
    this.#ready();
    const channel = await (this.#publisher as ReopeningChannel<ConfirmChannel>).get();
    if (!this.#declared.has(exchange)) {
      await channel.assertExchange(exchange, "topic", { durable: true });
      this.#declared.add(exchange);
    }
    await new Promise<void>((resolve, reject) => {
      channel.publish(
        exchange,
        routingKey,
        Buffer.from(event.body, "utf8"),
        {
          persistent: true,
          ...(event.messageId ? { messageId: event.messageId } : {}),
          ...(event.contentType ? { contentType: event.contentType } : {}),
          headers: { ...event.headers },
        },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }

  #ready(): RecoveringChannelModel {
    if (!this.#connection || this.#closed) throw new Error("the event bus is not started");
    return this.#connection;
  }
}

class AmqpSubscription {
  readonly #connection: RecoveringChannelModel;
  readonly #binding: EventBinding;
  readonly #handler: EventHandler;
  readonly #logger: Logger;
  readonly #limit: ReturnType<typeof pLimit>;
  readonly #inHand = new Set<Promise<void>>();
  #channel: { channel: ConfirmChannel; tag: string } | null = null;
  #closed = false;

  constructor(
    connection: RecoveringChannelModel,
    binding: EventBinding,
    handler: EventHandler,
    logger: Logger,
  ) {
    this.#connection = connection;
    this.#binding = binding;
    this.#handler = handler;
    this.#logger = logger.child({ queue: binding.queue });
    this.#limit = pLimit(Math.max(1, binding.prefetch));
  }

  get deadQueue(): string {
    return `${this.#binding.queue}.dead`;
  }

  async start(): Promise<void> {
    const { exchange, routingKey, queue, prefetch } = this.#binding;
    const channel = await this.#connection.createConfirmChannel();
    channel.on("error", (error) => this.#logger.warn({ err: error }, "RabbitMQ event channel error"));
    channel.on("close", () => {
      if (this.#closed || this.#channel?.channel !== channel) return;
      this.#channel = null;
      void this.#restart();
    });
    await channel.assertExchange(exchange, "topic", { durable: true });
    await channel.assertQueue(this.deadQueue, { durable: true, arguments: { "x-queue-type": "quorum" } });
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": this.deadQueue,
      },
    });
    await channel.bindQueue(queue, exchange, routingKey);
    await channel.prefetch(prefetch);
    const { consumerTag } = await channel.consume(queue, (message) => {
      if (message === null) {
        void channel.close().catch(() => {});
        return;
      }
      const work = this.#limit(() => this.#deliver(channel, message));
      this.#inHand.add(work);
      void work.finally(() => this.#inHand.delete(work));
    });
    this.#channel = { channel, tag: consumerTag };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#channel;
    this.#channel = null;
    await current?.channel.cancel(current.tag).catch(() => {});
    while (this.#inHand.size > 0) await Promise.all([...this.#inHand]);
    await current?.channel.close().catch(() => {});
  }

  async #restart(): Promise<void> {
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        await this.start();
        this.#logger.info("consuming events again");
        return;
      } catch (error) {
        this.#logger.warn({ err: error, attempt }, "cannot consume events from RabbitMQ yet");
        await sleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
  }

  async #deliver(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    let outcome: Awaited<ReturnType<EventHandler>>;
    try {
      outcome = await this.#handler(eventMessage(message));
    } catch (error) {
      this.#logger.warn(
        { err: error, messageId: message.properties.messageId },
        "event not handled yet; requeued",
      );
      await sleep(REQUEUE_PAUSE_MS);
      settle(() => channel.nack(message, false, true));
      return;
    }
    if ("deadLetter" in outcome) {
      try {
        await new Promise<void>((resolve, reject) => {
          channel.sendToQueue(
            this.deadQueue,
            message.content,
            {
              ...message.properties,
              persistent: true,
              headers: {
                ...message.properties.headers,
                "x-pflow-reason": outcome.deadLetter,
                "x-pflow-routing-key": message.fields.routingKey,
                "x-pflow-exchange": message.fields.exchange,
              },
            },
            (error) => (error ? reject(error) : resolve()),
          );
        });
      } catch (error) {
        this.#logger.warn({ err: error }, "dead letter not published; the message is requeued");
        settle(() => channel.nack(message, false, true));
        return;
      }
    }
    settle(() => channel.ack(message));
  }
}

/** An ack or nack on a channel that has since closed is moot: RabbitMQ redelivers what was not acked. */
function settle(action: () => void): void {
  try {
    action();
  } catch {
    // The channel closed: the message comes back.
  }
}

function eventMessage(message: ConsumeMessage): EventMessage {
  const { properties, fields, content } = message;
  const messageId =
    typeof properties.messageId === "string" && properties.messageId !== "" ? properties.messageId : null;
  return {
    body: content.toString("utf8"),
    contentType: typeof properties.contentType === "string" ? properties.contentType : null,
    headers: { ...(properties.headers ?? {}) },
    routingKey: fields.routingKey,
    messageId,
  };
}
