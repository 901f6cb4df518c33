export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  random?: () => number;
}

/**
 * Capped exponential backoff with jitter, reset by its user once things work again (a Workload
 * API stream: once it has answered and stayed open for a while). Jitter keeps a fleet of
 * sidecars from reconnecting in lockstep after an agent restart.
 */
export class Backoff {
  private attempt = 0;
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The next delay: within [d/2, d] where d doubles from initialMs up to maxMs. */
  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
