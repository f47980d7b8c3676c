/**
 * Waiting that stops when an attempt is aborted. Both helpers reject with the
 * signal's own reason (a TimeoutError from AbortSignal.timeout, whatever a
 * cancelled run passes), so the caller can tell a timeout from a cancellation.
 */

/** Resolves after `ms`, or rejects as soon as `signal` aborts (the timer is cleared). */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return raceAbort(elapsed, signal, () => clearTimeout(timer));
}

/**
 * `promise`, or a rejection as soon as `signal` aborts. Work that cannot be
 * cancelled (a DNS lookup) runs on in the background and its result is ignored.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, onAbort?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      reject(signal.reason);
    };
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}
