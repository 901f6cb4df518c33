/**
 * Waiting for the next value something publishes, not for the current one: a caller that must act
 * on the next change (a new bundle set, another picked identity) waits here until it comes or
 * until its own signal aborts. A waiter that gives up is forgotten at once, so long-lived
 * publishers do not collect the waiters of callers long gone.
 */
export class NextValue<T> {
  private readonly waiters = new Set<(value: T) => void>();

  /** The next value published after this call; rejects with `signal`'s reason when it aborts first. */
  next(signal: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const waiter = (value: T): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const onAbort = (): void => {
        this.waiters.delete(waiter);
        reject(signal.reason);
      };
      this.waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves every next() waiting now with `value`; a next() called later waits for the value after. */
  publish(value: T): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) w(value);
  }
}
