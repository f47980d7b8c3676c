import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Channel, ConsumeMessage, RecoveringChannelModel } from "amqplib";
import type { Logger } from "pino";
import type { DeltaListener, DeltaSubscription, NodeDelta } from "../broker.ts";
import { DeltaListeners } from "../delta-listeners.ts";
import { ReopeningChannel } from "./reopening-channel.ts";
import type { Topology } from "./topology.ts";

/** How often dropped deltas are logged, at most: a congested link drops many, and says so once. */
const DROP_LOG_INTERVAL_MS = 60_000;

/**
 * Deltas over RabbitMQ, at most once (see Topology for the exchange and
 * queues). Everything here trades delivery for cost, the other way round from
 * tasks: no publisher confirms, no `mandatory`, non-persistent messages, no
 * acks. A publish while the socket is congested is dropped rather than
 * buffered, so a flood of deltas never holds memory or delays tasks (they
 * have channels of their own).
 *
 * The queue of this process is declared on the first subscription, bound to
 * each run a listener follows (unbound after its last listener leaves), and
 * declared and bound again, with backoff, when its channel is lost (a
 * reconnect). Deltas published meanwhile are lost: the run's state is not.
 */
export class DeltaFanout {
  readonly #connection: RecoveringChannelModel;
  readonly #topology: Topology;
  readonly #logger: Logger;
  readonly #queue: string;
  readonly #listeners = new DeltaListeners();
  readonly #publishing: ReopeningChannel<Channel>;
  #congested = false;
  #receiving: Promise<Channel> | null = null;
  #closed = false;
  #dropped = 0;
  #droppedLoggedAt = 0;

  constructor(connection: RecoveringChannelModel, topology: Topology, logger: Logger) {
    this.#connection = connection;
    this.#topology = topology;
    this.#logger = logger;
    this.#queue = topology.deltaQueue(randomUUID());
    this.#publishing = new ReopeningChannel(async () => {
      const channel = await connection.createChannel();
      channel.on("error", (error) => logger.warn({ err: error }, "RabbitMQ delta channel error"));
      channel.on("close", () => {
        this.#congested = false;
      });
      return channel;
    });
  }

  /** The exchange, declared with the rest of the topology on every (re)connect. */
  static async declare(channel: Pick<Channel, "assertExchange">, topology: Topology): Promise<void> {
    await channel.assertExchange(topology.deltaExchange, "direct", { durable: false });
  }

  /** After a reconnect: the old publishing channel is gone. */
  reset(): void {
    this.#publishing.reset();
    this.#congested = false;
  }

  async publish(deltas: readonly NodeDelta[]): Promise<void> {
    if (this.#closed || deltas.length === 0) return;
    let channel: Channel;
    try {
      channel = await this.#publishing.get();
    } catch (error) {
      this.#drop(deltas.length, error);
      return;
    }
    for (const delta of deltas) {
      if (this.#congested) {
        this.#drop(1);
        continue;
      }
      try {
        const flushed = channel.publish(this.#topology.deltaExchange, delta.runId, encodeDelta(delta), {
          persistent: false,
          contentType: "application/json",
        });
        if (!flushed) {
          this.#congested = true;
          channel.once("drain", () => {
            this.#congested = false;
          });
        }
      } catch (error) {
        // The channel closed under us; the next publish opens another.
        this.#drop(1, error);
      }
    }
  }

  async subscribe(runId: string, listener: DeltaListener): Promise<DeltaSubscription> {
    if (this.#closed) throw new Error("the RabbitMQ broker is closed");
    // A wrapper per subscription: a listener subscribed twice has two entries, each closed by its own.
    const entry: DeltaListener = (delta) => listener(delta);
    this.#listeners.add(runId, entry);
    try {
      const channel = await this.#receiver();
      // Binding again is harmless; every subscriber waits for its run to be bound.
      await channel.bindQueue(this.#queue, this.#topology.deltaExchange, runId);
    } catch (error) {
      this.#unsubscribe(runId, entry);
      throw error;
    }
    return { close: async () => this.#unsubscribe(runId, entry) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const receiving = this.#receiving;
    this.#receiving = null;
    await receiving?.then((channel) => channel.close()).catch(() => {});
  }

  #unsubscribe(runId: string, entry: DeltaListener): void {
    if (!this.#listeners.remove(runId, entry) || this.#receiving === null) return;
    // The run's last listener left: stop receiving it. A later subscriber binds it again after this.
    void this.#receiving
      .then((channel) => channel.unbindQueue(this.#queue, this.#topology.deltaExchange, runId))
      .catch(() => {});
  }

  /** The channel consuming this process's queue, opened on first use and after it is lost. */
  #receiver(): Promise<Channel> {
    if (this.#receiving === null) {
      const opening = this.#openReceiver();
      this.#receiving = opening;
      opening.then(
        (channel) =>
          channel.on("close", () => {
            if (this.#receiving !== opening) return;
            this.#receiving = null;
            if (!this.#closed) void this.#reopen();
          }),
        () => {
          if (this.#receiving === opening) this.#receiving = null;
        },
      );
    }
    return this.#receiving;
  }

  async #openReceiver(): Promise<Channel> {
    const channel = await this.#connection.createChannel();
    channel.on("error", (error) => this.#logger.warn({ err: error }, "RabbitMQ delta queue channel error"));
    try {
      await channel.assertQueue(this.#queue, {
        exclusive: true,
        autoDelete: true,
        durable: false,
        arguments: this.#topology.deltaQueueArguments(),
      });
      // After a reconnect: the runs followed all along.
      for (const runId of this.#listeners.runs()) {
        await channel.bindQueue(this.#queue, this.#topology.deltaExchange, runId);
      }
      await channel.consume(
        this.#queue,
        (message) => {
          // null: the server cancelled the consumer (the queue was deleted); a new channel declares it again.
          if (message === null) void channel.close().catch(() => {});
          else this.#receive(message);
        },
        { noAck: true },
      );
    } catch (error) {
      await channel.close().catch(() => {});
      throw error;
    }
    return channel;
  }

  /** Opens the queue again after its channel was lost, while anyone listens. */
  async #reopen(): Promise<void> {
    for (let attempt = 1; !this.#closed && this.#listeners.runs().length > 0; attempt++) {
      try {
        await this.#receiver();
        return;
      } catch (error) {
        this.#logger.warn({ err: error, attempt }, "cannot receive deltas from RabbitMQ yet");
        await sleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
  }

  #receive(message: ConsumeMessage): void {
    const delta = decodeDelta(message.content);
    if (delta === null) {
      this.#logger.warn("not a delta message: dropped");
      return;
    }
    this.#listeners.dispatch(delta);
  }

  #drop(count: number, error?: unknown): void {
    this.#dropped += count;
    const now = Date.now();
    if (now - this.#droppedLoggedAt < DROP_LOG_INTERVAL_MS) return;
    this.#droppedLoggedAt = now;
    this.#logger.warn(
      { err: error, dropped: this.#dropped },
      "deltas dropped: RabbitMQ is unreachable or congested (streamed text only; runs are not affected)",
    );
    this.#dropped = 0;
  }
}

export function encodeDelta(delta: NodeDelta): Buffer {
  const { runId, nodeId, item, attempt, offset, text } = delta;
  return Buffer.from(JSON.stringify({ runId, nodeId, item, attempt, offset, text }));
}

/** The delta in a message, or null if it is not one. */
export function decodeDelta(body: Buffer): NodeDelta | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  const { runId, nodeId, item, attempt, offset, text } = value ?? {};
  const valid =
    typeof runId === "string" &&
    typeof nodeId === "string" &&
    (item === null || Number.isInteger(item)) &&
    Number.isInteger(attempt) &&
    Number.isInteger(offset) &&
    typeof text === "string";
  return valid ? ({ runId, nodeId, item, attempt, offset, text } as NodeDelta) : null;
}
