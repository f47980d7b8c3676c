/**
 * How every RabbitMQ connection of a process reconnects (amqplib's `recovery`):
 * backoff from 200 ms to 5 s with jitter; at start, `initialRetries` attempts
 * (default 5) before giving up, so a wrong URL fails fast; once connected,
 * forever, since a broker restart must not end a long-running process.
 */
export function reconnectPolicy(initialRetries = 5) {
  return {
    initialDelay: 200,
    maxDelay: 5_000,
    initialMaxRetries: initialRetries,
    maxRetries: Number.POSITIVE_INFINITY,
  };
}
