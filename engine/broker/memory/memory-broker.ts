import type {
  Broker,
  Consumer,
  DeadLetterHandler,
  Delivery,
  DeliveryHandler,
  DeltaListener,
  DeltaSubscription,
  NodeDelta,
  Task,
} from "../broker.ts";
import { DeltaListeners } from "../delta-listeners.ts";

/**
 * The in-process Broker of the embedded default: one FIFO queue in memory.
 * Nothing here is durable, and it need not be: after a restart the sweeper
 * republishes every execution the Store holds as queued. Delayed tasks wait on
 * timers (kept referenced, so a process waiting on a retry stays alive).
 * Deltas go straight to the listeners of their run, during the publish: the
 * worker that writes them and the clients that read them share this process.
 */
export interface MemoryBrokerOptions {
  /** Deliveries after which a task is dead-lettered. */
  readonly maxDeliveries: number;
  readonly onDeadLetter: DeadLetterHandler;
}

interface Message {
  readonly task: Task;
  deliveries: number;
}

export class MemoryBroker implements Broker {
  readonly #options: MemoryBrokerOptions;
  readonly #queue: Message[] = [];
  #head = 0;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #consumers = new Set<MemoryConsumer>();
  readonly #deltaListeners = new DeltaListeners();
  #closed = false;

  constructor(options: MemoryBrokerOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#deltaListeners.clear();
    await Promise.all([...this.#consumers].map((consumer) => consumer.stop()));
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new Error("the in-process broker is closed");
  }

  async publish(tasks: readonly Task[], options: { delayMs?: number } = {}): Promise<void> {
    if (this.#closed) throw new Error("the in-process broker is closed");
    const messages = tasks.map((task) => ({ task, deliveries: 0 }));
    this.#enqueue(messages, options.delayMs ?? 0);
  }

  async consume(handler: DeliveryHandler, options: { concurrency: number }): Promise<Consumer> {
    const consumer = new MemoryConsumer(this, handler, Math.max(1, options.concurrency));
    this.#consumers.add(consumer);
    consumer.pump();
    return consumer;
  }

  async depth(): Promise<number> {
    return this.#queue.length - this.#head;
  }

  async publishDeltas(deltas: readonly NodeDelta[]): Promise<void> {
    if (this.#closed) return;
    for (const delta of deltas) this.#deltaListeners.dispatch(delta);
  }

  async subscribeDeltas(runId: string, listener: DeltaListener): Promise<DeltaSubscription> {
    if (this.#closed) throw new Error("the in-process broker is closed");
    // A wrapper per subscription: a listener subscribed twice has two entries, each closed by its own.
    const entry: DeltaListener = (delta) => listener(delta);
    this.#deltaListeners.add(runId, entry);
    return {
      close: async () => {
        this.#deltaListeners.remove(runId, entry);
      },
    };
  }

  /** The next message, or undefined; compacts the queue now and then. */
  take(): Message | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const message = this.#queue[this.#head] as Message;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    return message;
  }

  /** A delivery was nacked or its handler failed: again later, or to the dead letters. */
  async redeliver(message: Message, delayMs: number, reason: string): Promise<void> {
    if (message.deliveries >= this.#options.maxDeliveries) {
      await this.#options.onDeadLetter(message.task, reason, message.deliveries);
      return;
    }
    this.#enqueue([message], delayMs);
  }

  forget(consumer: MemoryConsumer): void {
    this.#consumers.delete(consumer);
  }

  #enqueue(messages: Message[], delayMs: number): void {
    if (this.#closed) return;
    if (delayMs <= 0) {
      this.#queue.push(...messages);
      this.#wake();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#enqueue(messages, 0);
    }, delayMs);
    this.#timers.add(timer);
  }

  #wake(): void {
    for (const consumer of this.#consumers) consumer.pump();
  }
}

class MemoryConsumer implements Consumer {
  readonly #broker: MemoryBroker;
  readonly #handler: DeliveryHandler;
  readonly #concurrency: number;
  #inFlight = 0;
  #stopped = false;
  readonly #settled = new Set<Promise<void>>();
  #pumping = false;

  constructor(broker: MemoryBroker, handler: DeliveryHandler, concurrency: number) {
    this.#broker = broker;
    this.#handler = handler;
    this.#concurrency = concurrency;
  }

  /** Starts deliveries up to the concurrency. Deferred a tick so publishers return first. */
  pump(): void {
    if (this.#pumping || this.#stopped) return;
    this.#pumping = true;
    queueMicrotask(() => {
      this.#pumping = false;
      while (!this.#stopped && this.#inFlight < this.#concurrency) {
        const message = this.#broker.take();
        if (message === undefined) return;
        this.#deliver(message);
      }
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#broker.forget(this);
    await Promise.all(this.#settled);
  }

  #deliver(message: Message): void {
    message.deliveries++;
    this.#inFlight++;
    let settled = false;
    let outcome: { requeue: boolean; delayMs: number } = { requeue: false, delayMs: 0 };
    const delivery: Delivery = {
      task: message.task,
      deliveries: message.deliveries,
      ack: async () => {
        settled = true;
      },
      nack: async (options = {}) => {
        settled = true;
        outcome = { requeue: true, delayMs: options.delayMs ?? 0 };
      },
    };
    const run = (async () => {
      let reason = "nacked";
      try {
        await this.#handler(delivery);
      } catch (error) {
        if (!settled) outcome = { requeue: true, delayMs: 0 };
        reason = error instanceof Error ? error.message : String(error);
      }
      if (outcome.requeue) await this.#broker.redeliver(message, outcome.delayMs, reason);
    })().finally(() => {
      this.#inFlight--;
      this.#settled.delete(run);
      this.pump();
    });
    this.#settled.add(run);
  }
}
