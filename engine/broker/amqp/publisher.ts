import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConfirmChannel, Options, RecoveringChannelModel } from "amqplib";
import type { Logger } from "pino";
import type { Task } from "../broker.ts";
import { DEAD_LETTER_REASON, encodeTask, PRIOR_DELIVERIES, taskHeaders } from "./headers.ts";
import { ReopeningChannel } from "./reopening-channel.ts";
import type { Topology } from "./topology.ts";

interface Outgoing {
  readonly queue: string;
  readonly body: Buffer;
  readonly headers: Record<string, unknown>;
}

/** How long a publish keeps retrying (through a broker restart) before it fails. */
const PUBLISH_DEADLINE_MS = 60_000;
/** A delay queue is declared again after this long (which also resets its expiry). */
const REDECLARE_DELAY_QUEUE_MS = 20_000;

/**
 * Publishes on a confirm channel, every message persistent and `mandatory`:
 * a publish resolves only once RabbitMQ has confirmed every message and none
 * came back unroutable. What was not confirmed (a nack, a return, a channel or
 * connection lost) is published again, with backoff, across reconnects, until
 * PUBLISH_DEADLINE_MS; a duplicate this may cause is harmless (the Store's
 * transitions are conditional), a loss is not.
 */
export class Publisher {
  readonly #connection: RecoveringChannelModel;
  readonly #topology: Topology;
  readonly #logger: Logger;
  readonly #channel = new ReopeningChannel<ConfirmChannel>(async () => {
    const channel = await this.#connection.createConfirmChannel();
    channel.on("return", (message) => {
      const id = message.properties.messageId;
      if (typeof id === "string") this.#returned.add(id);
    });
    channel.on("error", (error) => this.#logger.warn({ err: error }, "RabbitMQ publish channel error"));
    return channel;
  });
  /** Message ids RabbitMQ returned as unroutable (their confirm follows the return). */
  readonly #returned = new Set<string>();
  readonly #delayQueuesDeclaredAt = new Map<string, number>();
  #closed = false;
  readonly #redeclare: () => Promise<void>;

  /** `redeclare` declares the topology again: a return means a queue went missing (deleted by hand). */
  constructor(
    connection: RecoveringChannelModel,
    topology: Topology,
    logger: Logger,
    redeclare: () => Promise<void>,
  ) {
    this.#connection = connection;
    this.#topology = topology;
    this.#logger = logger;
    this.#redeclare = redeclare;
  }

  close(): void {
    this.#closed = true;
  }

  /** After a reconnect: the old channel is gone, and delay queues may be too. */
  reset(): void {
    this.#channel.reset();
    this.#delayQueuesDeclaredAt.clear();
  }

  publishTasks(tasks: readonly Task[]): Promise<void> {
    return this.#publish(
      tasks.map((task) => ({
        queue: this.#topology.queueFor(task.route),
        body: encodeTask(task),
        headers: taskHeaders(task),
      })),
    );
  }

  /** Into the delay queue of the task's queue; it comes back after delayMs, with its deliveries so far. */
  async publishDelayed(tasks: readonly Task[], delayMs: number, priorDeliveries = 0): Promise<void> {
    const byQueue = new Map<string, Outgoing[]>();
    for (const task of tasks) {
      const delay = this.#topology.delayQueue(this.#topology.queueFor(task.route), delayMs);
      const list = byQueue.get(delay.name) ?? [];
      list.push({
        queue: delay.name,
        body: encodeTask(task),
        headers: { ...taskHeaders(task), [PRIOR_DELIVERIES]: priorDeliveries },
      });
      byQueue.set(delay.name, list);
      await this.#declareDelayQueue(delay.name, delay.arguments);
    }
    await this.#publish([...byQueue.values()].flat());
  }

  /** Straight to the dead-letter queue, with the reason a process knows (the handler's error). */
  publishDeadLetter(task: Task, reason: string, deliveries: number): Promise<void> {
    return this.#publish([
      {
        queue: this.#topology.deadLetters,
        body: encodeTask(task),
        headers: {
          ...taskHeaders(task),
          [DEAD_LETTER_REASON]: reason.slice(0, 2000),
          [PRIOR_DELIVERIES]: deliveries,
        },
      },
    ]);
  }

  async #publish(messages: readonly Outgoing[]): Promise<void> {
    if (messages.length === 0) return;
    const deadline = Date.now() + PUBLISH_DEADLINE_MS;
    let pending = messages;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new Error("the RabbitMQ broker is closed");
      pending = await this.#publishOnce(pending);
      if (pending.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `RabbitMQ did not confirm ${pending.length} message(s) within ${PUBLISH_DEADLINE_MS} ms`,
        );
      this.#logger.warn({ unconfirmed: pending.length, attempt }, "RabbitMQ publish not confirmed; retrying");
      await sleep(Math.min(2000, 50 * 2 ** attempt));
    }
  }

  /** Publishes each message once; returns those not confirmed. */
  async #publishOnce(messages: readonly Outgoing[]): Promise<Outgoing[]> {
    let channel: ConfirmChannel;
    try {
      channel = await this.#open();
    } catch (error) {
      this.#logger.warn({ err: error }, "no RabbitMQ channel to publish on");
      return [...messages];
    }
    const confirmations: Array<Promise<Outgoing | null>> = [];
    for (const message of messages) {
      let flushed = true;
      confirmations.push(
        new Promise<Outgoing | null>((resolve) => {
          const messageId = randomUUID();
          const options: Options.Publish = {
            persistent: true,
            mandatory: true,
            messageId,
            contentType: "application/json",
            headers: message.headers,
          };
          try {
            flushed = channel.publish("", message.queue, message.body, options, (error) => {
              const returned = this.#returned.delete(messageId);
              if (returned)
                this.#logger.warn({ queue: message.queue }, "RabbitMQ returned a task: no such queue");
              resolve(error || returned ? message : null);
            });
          } catch {
            // The channel closed under us: publish again on the next one.
            resolve(message);
          }
        }),
      );
      // The socket's buffer is full: wait for it to drain (or the channel to go) before writing more.
      if (!flushed) await drained(channel);
    }
    const results = await Promise.all(confirmations);
    const failed = results.filter((each): each is Outgoing => each !== null);
    if (failed.length > 0) {
      this.#delayQueuesDeclaredAt.clear();
      await this.#redeclare().catch((error) =>
        this.#logger.warn({ err: error }, "cannot declare the queues"),
      );
    }
    return failed;
  }

  #open(): Promise<ConfirmChannel> {
    return this.#channel.get();
  }

  async #declareDelayQueue(name: string, args: Record<string, unknown>): Promise<void> {
    const declaredAt = this.#delayQueuesDeclaredAt.get(name);
    if (declaredAt !== undefined && Date.now() - declaredAt < REDECLARE_DELAY_QUEUE_MS) return;
    const channel = await this.#open();
    await channel.assertQueue(name, { durable: true, arguments: args });
    this.#delayQueuesDeclaredAt.set(name, Date.now());
  }
}

function drained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      channel.off("drain", done);
      channel.off("close", done);
      resolve();
    };
    channel.once("drain", done);
    channel.once("close", done);
  });
}
