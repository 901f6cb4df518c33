/**
 * Timers that wait as long as they are asked to. Node stores a timer's delay in 32 bits: a
 * delay over 2^31-1 ms (about 24.8 days) fires after 1 ms instead, with only a warning. Delays
 * the helper computes (half the life of a token that expires next year) can be that long, so
 * every wait goes through here and longer ones are chained.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once `ms` have passed on the monotonic clock, chaining timers of at most
 * MAX_TIMER_MS. Returns a canceller. `unref`: the wait alone does not keep the process alive.
 */
function after(ms: number, fn: () => void, unref: boolean): () => void {
  if (Number.isNaN(ms)) throw new RangeError('a timer delay must be a number of milliseconds');
  const due = performance.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    timer = setTimeout(tick, Math.min(Math.max(0, Math.ceil(left)), MAX_TIMER_MS));
    if (unref) timer.unref();
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
    const cancel = after(
      ms,
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      false,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** AbortSignal.timeout without the 24.8-day limit: aborts with a TimeoutError after `ms`. */
export function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  after(ms, () => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), true);
  return controller.signal;
}
