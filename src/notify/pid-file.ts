import type { Logger } from '../log.js';
import { sleep } from '../timer.js';
import { Backoff } from '../backoff.js';
import { never, type Notifier } from './notifier.js';
import { readTrustedFile } from './trusted-file.js';

/**
 * Signals a process the helper did not start (an nginx under systemd) through its pid file.
 * A missing, empty or stale pid file is retried with backoff in the background, so it never
 * holds up a rotation or shutdown; a newer rotation takes over the retries. So is a pid file
 * that someone other than the helper's user or root could have written (see trusted-file.ts):
 * its pid is never signalled, and the log says why.
 */
export class PidFileSignaller implements Notifier {
  private attempt: AbortController | undefined;
  readonly done = never;

  constructor(
    private readonly pidFile: string,
    private readonly sig: NodeJS.Signals,
    private readonly log: Logger,
    private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 }),
  ) {}

  rotated(): Promise<void> {
    this.attempt?.abort();
    const attempt = new AbortController();
    this.attempt = attempt;
    void this.signalUntilDone(attempt.signal);
    return Promise.resolve();
  }

  forward(): void {
    // The process behind a pid file has its own supervisor.
  }

  stop(): Promise<undefined> {
    this.attempt?.abort();
    return Promise.resolve(undefined);
  }

  private async signalUntilDone(signal: AbortSignal): Promise<void> {
    this.backoff.reset();
    while (!signal.aborted) {
      const problem = await this.trySignal();
      if (problem === undefined) return;
      const delay = this.backoff.next();
      this.log.warn('cannot signal the process in pid_file_name yet; retrying', { pid_file: this.pidFile, reason: problem, retry_in_ms: delay });
      try {
        await sleep(delay, signal);
      } catch {
        return;
      }
    }
  }

  /** Undefined on success, else why not. */
  private async trySignal(): Promise<string | undefined> {
    let text: string;
    try {
      text = await readTrustedFile(this.pidFile);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'pid file does not exist';
      if (code === undefined) return `refusing to use the pid file: ${(e as Error).message}`;
      return (e as Error).message;
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) return `pid file holds ${JSON.stringify(text.trim().slice(0, 20))}, not a process id`;
    try {
      process.kill(pid, this.sig);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH' ? `no process ${pid} (stale pid file)` : (e as Error).message;
    }
    this.log.info('signalled process from pid file', { pid_file: this.pidFile, pid, signal: this.sig });
    return undefined;
  }
}
