/**
 * Timers that wait as long as they are asked to. Node stores a timer's delay in 32 bits: a
 * delay over 2^31-1 ms (about 24.8 days) fires after 1 ms instead, with only a warning. Delays
 * the helper computes (half the life of a token that expires next year) can be that long, so
 * every wait goes through here and longer ones are chained.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once `ms` have passed on the monotonic clock, chaining timers of at most
 * MAX_TIMER_MS. Returns a canceller.
 */
export function after(ms: number, fn: () => void): () => void {
  if (Number.isNaN(ms)) throw new RangeError('a timer delay must be a number of milliseconds');
  const due = performance.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    timer = setTimeout(tick, Math.min(Math.max(0, Math.ceil(left)), MAX_TIMER_MS));
  };
  const tick = (): void => {
    const left = due - performance.now();
    if (left > 0) arm(left);
    else fn();
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** Resolves after `ms`; rejects with the signal's reason if it aborts first (like timers/promises). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = after(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
