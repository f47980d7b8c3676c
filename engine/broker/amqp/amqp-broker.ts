import { setTimeout as sleep } from "node:timers/promises";
import amqp, { type Channel, type ChannelModel, type RecoveringChannelModel } from "amqplib";
import type { Logger } from "pino";
import type {
  Broker,
  Consumer,
  DeadLetterHandler,
  DeliveryHandler,
  DeltaListener,
  DeltaSubscription,
  NodeDelta,
  Task,
} from "../broker.ts";
import { AmqpConsumer } from "./consumer.ts";
import { DeltaFanout } from "./delta-fanout.ts";
import { deathOf } from "./headers.ts";
import { Publisher } from "./publisher.ts";
import { reconnectPolicy } from "./recovery.ts";
import { ReopeningChannel } from "./reopening-channel.ts";
import { DEFAULT_QUEUES, type QueueRoute, Topology } from "./topology.ts";

export interface AmqpBrokerOptions {
  /** `amqp://user:password@host:port/vhost` */
  readonly url: string;
  readonly maxDeliveries: number;
  readonly onDeadLetter: DeadLetterHandler;
  readonly logger: Logger;
  /** Prefix of every queue name (default `pflow`). */
  readonly prefix?: string;
  /** Worker pools: which queue each route goes to (default: one queue for all). */
  readonly queues?: readonly QueueRoute[];
  /** The pools this process's workers take tasks from (default: all). */
  readonly consumeFrom?: readonly string[];
  /** Reconnect attempts before start() fails (default 5; after a first connect, forever). */
  readonly initialRetries?: number;
}

/**
 * The production Broker, on RabbitMQ (see Topology for the queues, Publisher
 * for confirms and retries, AmqpConsumer for deliveries). The connection
 * reconnects with backoff and jitter (amqplib's recovery), declaring the
 * topology again on every connect; consumers and the publisher open new
 * channels once it is back. Every process also drains the dead-letter queue
 * into the dead-letter handler (the Store), so a task given up on is visible
 * and its run fails with the reason. Deltas go through a fanout of their own
 * (DeltaFanout), at most once.
 */
export class AmqpBroker implements Broker {
  readonly #options: AmqpBrokerOptions;
  readonly #topology: Topology;
  #connection: RecoveringChannelModel | null = null;
  #publisher: Publisher | null = null;
  #connected = false;
  readonly #consumers = new Set<AmqpConsumer>();
  #deadLetters: AmqpConsumer | null = null;
  #admin: ReopeningChannel<Channel> | null = null;
  #deltas: DeltaFanout | null = null;
  #closed = false;

  constructor(options: AmqpBrokerOptions) {
    this.#options = options;
    this.#topology = new Topology(options.prefix ?? "pflow", options.queues ?? DEFAULT_QUEUES);
    for (const pool of options.consumeFrom ?? [])
      if (!this.#topology.queues.some(({ queue }) => queue === pool))
        throw new Error(`no queue "${pool}" to consume from: the queues are ${this.#poolNames()}`);
  }

  async start(): Promise<void> {
    const { logger } = this.#options;
    const connection = await amqp.connect(this.#options.url, {
      recovery: {
        ...reconnectPolicy(this.#options.initialRetries),
        setup: (model: ChannelModel) => this.#declare(model),
      },
    });
    this.#connection = connection;
    this.#connected = true;
    connection.on("connect", () => {
      this.#connected = true;
      logger.info("connected to RabbitMQ");
    });
    connection.on("disconnect", (error: Error) => {
      this.#connected = false;
      this.#publisher?.reset();
      this.#admin?.reset();
      this.#deltas?.reset();
      if (!this.#closed) logger.warn({ err: error }, "RabbitMQ connection lost; reconnecting");
    });
    connection.on("error", (error: Error) => logger.warn({ err: error }, "RabbitMQ connection error"));
    this.#publisher = new Publisher(connection, this.#topology, logger, () => this.#declare(connection));
    this.#deltas = new DeltaFanout(connection, this.#topology, logger);
    this.#deadLetters = new AmqpConsumer(
      {
        connection,
        publisher: this.#publisher,
        queues: [this.#topology.deadLetters],
        concurrency: 1,
        // Never re-dead-lettered: a dead letter the handler cannot take is retried.
        maxDeliveries: Number.POSITIVE_INFINITY,
        logger,
      },
      async (delivery, headers) => {
        const death = deathOf(headers, this.#options.maxDeliveries);
        try {
          await this.#options.onDeadLetter(delivery.task, death.reason, death.deliveries);
        } catch (error) {
          // Back to the queue after a pause (the Store may be down): nothing is lost.
          logger.warn({ err: error, key: delivery.task.key }, "dead letter not recorded yet; retrying");
          await sleep(1_000);
          throw error;
        }
      },
    );
    await this.#deadLetters.start();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const consumers = [...this.#consumers, ...(this.#deadLetters ? [this.#deadLetters] : [])];
    this.#consumers.clear();
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    await this.#deltas?.close();
    this.#publisher?.close();
    await this.#connection?.close();
  }

  async ping(): Promise<void> {
    if (!this.#connected) throw new Error("RabbitMQ is not connected");
    const admin = await this.#adminChannel();
    await withTimeout(admin.checkQueue(this.#topology.deadLetters), 3_000, "RabbitMQ did not answer");
  }

  async publish(tasks: readonly Task[], options: { delayMs?: number } = {}): Promise<void> {
    const publisher = this.#ready();
    if ((options.delayMs ?? 0) > 0) await publisher.publishDelayed(tasks, options.delayMs as number);
    else await publisher.publishTasks(tasks);
  }

  async consume(handler: DeliveryHandler, options: { concurrency: number }): Promise<Consumer> {
    const publisher = this.#ready();
    const pools = this.#options.consumeFrom ?? this.#topology.queues.map(({ queue }) => queue);
    const consumer = new AmqpConsumer(
      {
        connection: this.#connection as RecoveringChannelModel,
        publisher,
        queues: pools.map((pool) => this.#topology.taskQueue(pool)),
        concurrency: options.concurrency,
        maxDeliveries: this.#options.maxDeliveries,
        logger: this.#options.logger,
      },
      handler,
    );
    await consumer.start();
    this.#consumers.add(consumer);
    return {
      stop: async () => {
        this.#consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  /** Tasks ready for delivery in every task queue (not those in delay queues, nor in hand). */
  async depth(): Promise<number> {
    this.#ready();
    const admin = await this.#adminChannel();
    const counts = await Promise.all(
      this.#topology.queues.map(({ queue }) => admin.checkQueue(this.#topology.taskQueue(queue))),
    );
    return counts.reduce((sum, { messageCount }) => sum + messageCount, 0);
  }

  async publishDeltas(deltas: readonly NodeDelta[]): Promise<void> {
    await this.#deltas?.publish(deltas);
  }

  subscribeDeltas(runId: string, listener: DeltaListener): Promise<DeltaSubscription> {
    this.#ready();
    return (this.#deltas as DeltaFanout).subscribe(runId, listener);
  }

  /** The task queues, dead-letter queue and delta exchange, declared on every (re)connect. */
  async #declare(model: Pick<ChannelModel, "createChannel">): Promise<void> {
    const channel = await model.createChannel();
    try {
      await DeltaFanout.declare(channel, this.#topology);
      await channel.assertQueue(this.#topology.deadLetters, {
        durable: true,
        arguments: this.#topology.deadLetterArguments(),
      });
      for (const { queue } of this.#topology.queues) {
        await channel.assertQueue(this.#topology.taskQueue(queue), {
          durable: true,
          arguments: this.#topology.taskQueueArguments(this.#options.maxDeliveries),
        });
      }
    } finally {
      await channel.close().catch(() => {});
    }
  }

  #ready(): Publisher {
    if (this.#closed) throw new Error("the RabbitMQ broker is closed");
    if (!this.#publisher) throw new Error("the RabbitMQ broker is not started");
    return this.#publisher;
  }

  /** A channel for queue checks, opened again after it closes (a failed check closes it). */
  #adminChannel(): Promise<Channel> {
    this.#admin ??= new ReopeningChannel(async () => {
      const channel = await (this.#connection as RecoveringChannelModel).createChannel();
      channel.on("error", () => {});
      return channel;
    });
    return this.#admin.get();
  }

  #poolNames(): string {
    return this.#topology.queues.map(({ queue }) => queue).join(", ");
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  const timeout = sleep(ms, undefined, { ref: false }).then(() => {
    throw new Error(message);
  });
  return Promise.race([work, timeout]);
}
