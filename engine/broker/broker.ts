/**
 * The Broker port: delivery of node tasks to workers. At least once: a task may
 * arrive twice (the Store's conditional transitions make the second a no-op),
 * and a task may be lost (the sweeper republishes what the Store says is queued
 * with no live delivery). The Store is the truth; the Broker is how work moves.
 *
 * A task that keeps failing to be handled (the handler throws, or the process
 * dies holding it) is dead-lettered after `maxDeliveries`: the broker hands it
 * to the dead-letter handler given at construction. No driver type (channel,
 * connection) crosses this port.
 */
export interface Task {
  /** The execution key (`runId/nodeId` or `runId/nodeId#index`). */
  readonly key: string;
  readonly runId: string;
  readonly nodeId: string;
  /**
   * Where the task goes: workers may subscribe to some routes only (per node
   * type, per model). The in-process broker has one queue.
   */
  readonly route: string;
  /**
   * The W3C `traceparent` of the span that dispatched it, when tracing is on:
   * the node's span continues that trace (engine/tracing.ts).
   */
  readonly trace?: string;
}

export interface Delivery {
  readonly task: Task;
  /** 1 on first delivery. */
  readonly deliveries: number;
  /** Done with it: the state is written. */
  ack(): Promise<void>;
  /** Give it back: to be delivered again (after delayMs), counting towards the delivery limit. */
  nack(options?: { delayMs?: number }): Promise<void>;
}

/**
 * Handles one delivery and settles it with ack() or nack(). A handler that
 * returns without settling has its delivery acked; one that throws has it
 * nacked (which counts towards the delivery limit).
 */
export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface Consumer {
  /** Takes no new deliveries, and resolves when those in hand are settled. */
  stop(): Promise<void>;
}

export type DeadLetterHandler = (task: Task, reason: string, deliveries: number) => Promise<void>;

export interface Broker {
  start(): Promise<void>;
  close(): Promise<void>;
  ping(): Promise<void>;
  /** Publishes tasks, after `delayMs` if given (retry backoff). Resolves once accepted. */
  publish(tasks: readonly Task[], options?: { delayMs?: number }): Promise<void>;
  /** Delivers tasks to `handler`, at most `concurrency` at a time. */
  consume(handler: DeliveryHandler, options: { concurrency: number }): Promise<Consumer>;
  /** Tasks waiting for delivery (for metrics and tests). */
  depth(): Promise<number>;
}
