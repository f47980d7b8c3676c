/**
 * Polls `probe` until it gives a value (an error counts as none yet: a server
 * still starting), failing after `timeoutMs`.
 */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what = "the condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
