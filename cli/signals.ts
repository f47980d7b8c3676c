/**
 * Resolves at the first SIGTERM or SIGINT, or when the process that started
 * this one exits, and keeps the process alive until then.
 *
 * - Waiting on a promise alone does not keep Node alive: a worker on the
 *   embedded store has no listening socket and its sweeper's timers are
 *   unref'd, so Node found the event loop empty and exited with code 13
 *   ("unsettled top-level await") right after "worker started".
 * - `npx pflow serve &` then `kill $!` signals npm, which dies without passing
 *   the signal on (through the `sh -c` it runs the bin with), and the server
 *   went on serving, orphaned. A parent that goes away is taken as the stop
 *   it meant: the process is re-parented, so its parent pid changes. Started
 *   by init (pid 1, a container's entrypoint), there is nothing to watch.
 */
export type StopReason = NodeJS.Signals | "parent-exited";

const PARENT_CHECK_MS = 250;

export function untilSignalled(): Promise<StopReason> {
  const parent = process.ppid;
  return new Promise((resolve) => {
    const stop = (reason: StopReason) => {
      clearInterval(watch);
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(reason);
    };
    const watch = setInterval(() => {
      if (parent !== 1 && process.ppid !== parent) stop("parent-exited");
    }, PARENT_CHECK_MS);
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
