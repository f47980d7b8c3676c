/**
 * Resolves at the first SIGTERM or SIGINT, and keeps the process alive until
 * then. Waiting on a promise alone does not: a worker on the embedded store
 * has no listening socket, and its sweeper's timers are unref'd, so Node
 * would find the event loop empty and exit with code 13 ("unsettled
 * top-level await") right after "worker started".
 */
export function untilSignalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    const stop = (signal: NodeJS.Signals) => {
      clearInterval(keepAlive);
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(signal);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
