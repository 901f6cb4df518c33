/**
 * Settles like `work`, or rejects with the stop reason at SIGINT/SIGTERM: for work that cannot
 * be aborted, such as reading a FIFO or a terminal (the read itself is left behind: the
 * process exits without waiting for it).
 */
export function untilStopped<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(signal.reason);
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}
