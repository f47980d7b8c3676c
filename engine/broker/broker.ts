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
 *
 * Besides tasks, the Broker fans out deltas (the text of streaming model nodes
 * as it is written) from the worker that produces them to every process whose
 * clients follow the run. Deltas are the opposite of tasks: at most once, not
 * durable, never stored, dropped when no one listens or a listener lags.
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

/**
 * A piece of a streaming model node's answer, as the model writes it. The
 * pieces of one attempt, joined in order, are the text its output comes from.
 */
export interface NodeDelta {
  readonly runId: string;
  readonly nodeId: string;
  /** The map item whose template node wrote it, or null. */
  readonly item: number | null;
  /** The attempt it belongs to, counting fallbacks (the execution's attemptsTotal); a retry starts over. */
  readonly attempt: number;
  /** Where `text` starts in the attempt's text (UTF-16 code units): a gap shows a piece was lost. */
  readonly offset: number;
  readonly text: string;
}

export type DeltaListener = (delta: NodeDelta) => void;

export interface DeltaSubscription {
  /** No more deltas reach the listener. */
  close(): Promise<void>;
}

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
  /**
   * Sends deltas to the processes subscribed to their runs, at most once, in
   * the order each process published them (so in order per execution).
   * Resolves once they are handed on; never rejects: a delta
   * that cannot be sent (no connection, a congested one) is dropped, as a
   * glimpse lost costs nothing the run's state does not hold.
   */
  publishDeltas(deltas: readonly NodeDelta[]): Promise<void>;
  /**
   * Calls `listener` with the deltas of `runId` published after this resolves,
   * in order per execution, until the subscription is closed. Earlier ones are not
   * replayed.
   */
  subscribeDeltas(runId: string, listener: DeltaListener): Promise<DeltaSubscription>;
}
