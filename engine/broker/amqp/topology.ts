/**
 * The RabbitMQ topology of one deployment (all names under a prefix, so several
 * deployments, or tests, can share a server):
 * - `<prefix>.tasks.<queue>`: durable quorum queues, one per worker pool. A task
 *   goes to the first queue whose route patterns match its route
 *   (`model.listing-writer`, `transform`, …), so workers can be scaled per model
 *   or node type. Each has an explicit delivery limit and dead-letters, at least
 *   once, to the dead-letter queue.
 * - `<prefix>.dead-letters`: a durable quorum queue of what could not be handled;
 *   every process drains it into the Store, where `/v1/dead-letters` shows it.
 * - `<prefix>.delay.<queue>.<ms>`: durable classic queues, one per delay (rounded),
 *   whose messages expire after the delay into their task queue. Made on first
 *   use and deleted by the server a minute after their last use.
 * Tasks are published to the default exchange, straight to a queue by name:
 * there is no routing to get wrong, and `mandatory` catches a missing queue.
 *
 * Deltas (streamed model text) are not tasks, and nothing of the above applies
 * to them: `<prefix>.deltas` is a non-durable direct exchange, routed by run
 * id, and each process that relays deltas to clients has one exclusive,
 * auto-deleted queue, bound to the runs its clients follow, short and with a
 * short TTL, so a slow reader loses old deltas instead of building a backlog.
 */
export interface QueueRoute {
  /** The pool's name: letters, digits, `-` and `_`. */
  readonly queue: string;
  /** Route patterns; `*` matches any run of characters. */
  readonly routes: readonly string[];
}

export const DEFAULT_QUEUES: readonly QueueRoute[] = [{ queue: "default", routes: ["*"] }];

export class Topology {
  readonly prefix: string;
  readonly queues: readonly QueueRoute[];
  readonly deadLetters: string;
  readonly deltaExchange: string;
  readonly #patterns: ReadonlyArray<{ queue: string; test: RegExp }>;
  readonly #byRoute = new Map<string, string>();

  constructor(prefix: string, queues: readonly QueueRoute[]) {
    if (!/^[\w-]+(\.[\w-]+)*$/.test(prefix)) throw new Error(`invalid queue prefix "${prefix}"`);
    if (queues.length === 0) throw new Error("at least one queue is needed");
    for (const { queue } of queues)
      if (!/^[\w-]+$/.test(queue))
        throw new Error(`invalid queue name "${queue}": use letters, digits, - and _`);
    this.prefix = prefix;
    this.queues = queues;
    this.deadLetters = `${prefix}.dead-letters`;
    this.deltaExchange = `${prefix}.deltas`;
    this.#patterns = queues.flatMap(({ queue, routes }) =>
      routes.map((route) => ({ queue, test: globPattern(route) })),
    );
  }

  taskQueue(queue: string): string {
    return `${this.prefix}.tasks.${queue}`;
  }

  /** The task queue a route goes to: the first matching pattern's, else the last queue's. */
  queueFor(route: string): string {
    let queue = this.#byRoute.get(route);
    if (queue === undefined) {
      const name =
        this.#patterns.find(({ test }) => test.test(route))?.queue ??
        (this.queues.at(-1) as QueueRoute).queue;
      queue = this.taskQueue(name);
      if (this.#byRoute.size < 10_000) this.#byRoute.set(route, queue);
    }
    return queue;
  }

  /** A durable quorum task queue: redelivered at most `maxDeliveries` times in all, then dead-lettered. */
  taskQueueArguments(maxDeliveries: number): Record<string, unknown> {
    return {
      "x-queue-type": "quorum",
      // Quorum queues dead-letter a message returned more than this many times:
      // limit + 1 deliveries in all.
      "x-delivery-limit": Math.max(0, maxDeliveries - 1),
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": this.deadLetters,
      // At-least-once dead-lettering (RabbitMQ ≥ 3.10) needs reject-publish overflow.
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
    };
  }

  deadLetterArguments(): Record<string, unknown> {
    return { "x-queue-type": "quorum" };
  }

  /** One process's delta queue: `<prefix>.deltas.<process id>`. */
  deltaQueue(processId: string): string {
    return `${this.deltaExchange}.${processId}`;
  }

  /**
   * A delta queue holds little, briefly: past either limit the oldest deltas
   * are dropped (the default overflow), as a draft seconds old is of no use.
   */
  deltaQueueArguments(): Record<string, unknown> {
    return {
      "x-queue-type": "classic",
      "x-max-length": 2_000,
      "x-max-length-bytes": 4 * 1024 * 1024,
      "x-message-ttl": 10_000,
    };
  }

  /** The delay queue for a task queue and a delay, rounded up to 2 significant digits (at most 10% late). */
  delayQueue(
    taskQueue: string,
    delayMs: number,
  ): { name: string; delayMs: number; arguments: Record<string, unknown> } {
    const rounded = roundUpDelay(delayMs);
    return {
      name: `${this.prefix}.delay.${taskQueue.slice(this.prefix.length + ".tasks.".length)}.${rounded}`,
      delayMs: rounded,
      arguments: {
        "x-queue-type": "classic",
        "x-message-ttl": rounded,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": taskQueue,
        "x-expires": rounded + 60_000,
      },
    };
  }
}

/** Rounds up to 2 significant digits, so delays share a bounded set of queues. */
export function roundUpDelay(delayMs: number): number {
  const ms = Math.max(1, Math.ceil(delayMs));
  if (ms < 100) return ms;
  const step = 10 ** (Math.floor(Math.log10(ms)) - 1);
  return Math.ceil(ms / step) * step;
}

function globPattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/**
 * `gpu=model.llama*,model.mistral*;default=*`: the queues in order, each with
 * its route patterns (PFLOW_BROKER_QUEUES). Empty: one default queue for all.
 */
export function parseQueueRoutes(text: string | undefined): QueueRoute[] {
  if (!text?.trim()) return [...DEFAULT_QUEUES];
  return text
    .split(";")
    .filter((part) => part.trim())
    .map((part) => {
      const [queue, routes] = part.split("=", 2).map((each) => each.trim());
      if (!queue || !routes) throw new Error(`"${part}" is not queue=route,route`);
      return {
        queue,
        routes: routes
          .split(",")
          .map((route) => route.trim())
          .filter(Boolean),
      };
    });
}
