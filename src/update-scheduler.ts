import { Backoff, type BackoffOptions } from './backoff.js';
import { after } from './timer.js';

/**
 * The monotonic clock: every time below is a duration from an event, and the wall clock can
 * jump (an NTP step back of an hour held the next write an hour past its settle period).
 */
const now = (): number => performance.now();

export interface UpdateSchedulerOptions<T> {
  /**
   * Puts `state` on disk and tells whoever must know; resolves true when a program was
   * notified (the settle wait starts), rejects when the state is not (wholly) on disk.
   */
  apply(state: T): Promise<boolean>;
  /** A write failed; the next attempt, of this state or a newer one, starts in `retryInMs`. */
  onFailure(error: unknown, retryInMs: number): void;
  quietMs: number;
  settleMs: number;
  /** Between attempts at a failed state: 1 s doubling to 30 s unless set. */
  retry?: BackoffOptions;
}

/** A burst that never pauses is written at the latest this many quiet periods after it began. */
const QUIET_CAP = 10;

interface Pending<T> {
  state: T;
  /** When the first update of the burst this state ends came. */
  firstAt: number;
  lastAt: number;
  /** Set for a failed state tried again: the backoff, not the quiet period, decides. */
  retryAt?: number;
}

/**
 * Writes the latest state of one output, one write at a time. Every agent message is a
 * complete state, so only the newest unwritten one matters: it replaces whatever waits, a
 * failed write's retry included. A write starts once three waits are over:
 * - quiet: until no update has come for `quietMs` (SPIRE sends a bundle change and the new SVID
 *   of one sync as two messages 0.3-36 ms apart: they become one write and one signal), and at
 *   most QUIET_CAP quiet periods after the first update waiting, so that an agent that never
 *   pauses still gets written. The first write is not delayed: nothing has read the files yet.
 * - settle: `settleMs` after a write that notified a program, which may still be reading the
 *   files it was told about; replacing them under it pairs a new certificate with an old key.
 * - retry: after a failed write with nothing newer to write, capped backoff (1 s to 30 s by
 *   default), reset by a successful write.
 */
export class UpdateScheduler<T> {
  private pending: Pending<T> | undefined;
  private running: Promise<void> | undefined;
  private cancelTimer: (() => void) | undefined;
  private settledAt = -Infinity;
  private written = false;
  private stopped = false;
  private readonly backoff: Backoff;

  constructor(private readonly options: UpdateSchedulerOptions<T>) {
    this.backoff = new Backoff({ initialMs: 1000, maxMs: 30_000, ...options.retry });
  }

  offer(state: T): void {
    if (this.stopped) return;
    const at = now();
    const burst = this.pending && this.pending.retryAt === undefined ? this.pending.firstAt : at;
    this.pending = { state, firstAt: burst, lastAt: at };
    this.schedule();
  }

  /** No write starts from now on; resolves once a write under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.pending = undefined;
    await this.running;
  }

  private dueAt(p: Pending<T>): number {
    const { quietMs } = this.options;
    const quiet = this.written ? Math.min(p.lastAt + quietMs, p.firstAt + QUIET_CAP * quietMs) : p.lastAt;
    return Math.max(p.retryAt ?? quiet, this.settledAt);
  }

  private schedule(): void {
    this.cancelTimer?.();
    if (this.running || !this.pending || this.stopped) return;
    this.cancelTimer = after(this.dueAt(this.pending) - now(), () => this.run());
  }

  private run(): void {
    const p = this.pending!;
    this.pending = undefined;
    this.running = this.options.apply(p.state).then(
      (notified) => {
        this.written = true;
        this.backoff.reset();
        if (notified) this.settledAt = now() + this.options.settleMs;
      },
      (e: unknown) => {
        if (this.stopped) return;
        const at = now();
        this.pending ??= { ...p, retryAt: at + this.backoff.next() };
        this.options.onFailure(e, Math.max(0, Math.round(this.dueAt(this.pending) - at)));
      },
    );
    void this.running.finally(() => {
      this.running = undefined;
      this.schedule();
    });
  }
}
