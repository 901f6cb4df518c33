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
      text = await readTrustedFile(this.pidFile, MAX_PID_FILE_BYTES);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'pid file does not exist';
      if (code === undefined) return `refusing to use the pid file: ${(e as Error).message}`;
      return (e as Error).message;
    }
    const pid = parsePid(text);
    if (typeof pid === 'string') return pid;
    try {
      process.kill(pid, this.sig);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH' ? `no process ${pid} (stale pid file)` : (e as Error).message;
    }
    this.log.info('signalled process from pid file', { pid_file: this.pidFile, pid, signal: this.sig });
    return undefined;
  }
}

/** A pid file holds a pid and a newline; anything much longer is not one. */
const MAX_PID_FILE_BYTES = 4096;
/** Linux's PID_MAX_LIMIT: no process id is larger. */
const MAX_PID = 4_194_304;

/**
 * The pid in a pid file as daemons write it: decimal digits, whitespace around. Number() would
 * also take `0x1f`, `1e3` or `12.0` and signal some other process than the one meant. The
 * helper's own pid is refused too: in a container pids are small and reused, and a pid file
 * left by the previous run can name whatever pid the helper got this time.
 */
function parsePid(text: string): number | string {
  const t = text.trim();
  const pid = /^\d{1,7}$/.test(t) ? Number(t) : 0;
  if (pid <= 0 || pid > MAX_PID) return `pid file holds ${JSON.stringify(t.slice(0, 20))}, not a process id`;
  if (pid === process.pid) return `pid file names the helper itself (pid ${pid}): a stale pid file`;
  return pid;
}
