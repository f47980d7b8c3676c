/**
 * The EventBus port: messages from other services that start runs (event
 * triggers). RabbitMQ in production (amqp-event-bus.ts), in-process on the
 * embedded default (memory-event-bus.ts). Apart from the task Broker: events
 * come from outside pflow, on exchanges the platform owns, and a message is a
 * fact to start one run from, not a task to retry.
 *
 * Delivery is at least once: the handler may see a message again (a crash
 * before its ack, a publisher retrying). Exactly one run comes of it because
 * the run id is derived from the message id (engine/triggers/event-trigger.ts).
 */
export interface EventMessage {
  /** The body as sent (bytes decoded as UTF-8). */
  readonly body: string;
  readonly contentType: string | null;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly routingKey: string;
  /** The AMQP message-id property; null if the publisher set none. */
  readonly messageId: string | null;
}

export interface EventBinding {
  /** A topic exchange, declared durable if missing. */
  readonly exchange: string;
  /** A binding key: `*` matches one dot-separated word, `#` any number. */
  readonly routingKey: string;
  /** The trigger's own durable queue, shared by every process; its dead letters go to `<queue>.dead`. */
  readonly queue: string;
  /** Messages handled at once, per process. */
  readonly prefetch: number;
}

/** ack: done. deadLetter: never to be handled: to the queue's dead-letter queue, with the reason. */
export type EventOutcome = { readonly ack: true } | { readonly deadLetter: string };

/** Handles one message; a throw puts it back in the queue (after a pause), to be delivered again. */
export type EventHandler = (message: EventMessage) => Promise<EventOutcome>;

export interface EventSubscription {
  /** No new messages; resolves when those in hand are settled. */
  close(): Promise<void>;
}

export interface PublishedEvent {
  readonly body: string;
  readonly messageId?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface EventBus {
  start(): Promise<void>;
  close(): Promise<void>;
  subscribe(binding: EventBinding, handler: EventHandler): Promise<EventSubscription>;
  /** Publishes one message to a topic exchange (declared if missing); resolves once the server took it. */
  publish(exchange: string, routingKey: string, event: PublishedEvent): Promise<void>;
}

/** Whether a routing key matches a binding key, as a topic exchange decides. */
export function topicMatches(binding: string, routingKey: string): boolean {
  const pattern = binding.split(".");
  const words = routingKey.split(".");
  const match = (p: number, w: number): boolean => {
    if (p === pattern.length) return w === words.length;
    if (pattern[p] === "#") {
      for (let skip = w; skip <= words.length; skip++) if (match(p + 1, skip)) return true;
      return false;
    }
    if (w === words.length) return false;
    return (pattern[p] === "*" || pattern[p] === words[w]) && match(p + 1, w + 1);
  };
  return match(0, 0);
}
