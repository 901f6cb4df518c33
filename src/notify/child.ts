import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { HelperError } from '../errors.js';
import type { Logger } from '../log.js';

/** How a child ended, and the exit code a shell would report for it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function exitCodeOf(s: ExitStatus): number {
  if (s.code !== null) return s.code;
  return 128 + (s.signal ? constants.signals[s.signal] : 0);
}

export function describeExit(s: ExitStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exit code ${s.code}`;
}

/**
 * One started process with inherited stdio. Spawning is awaited, so a missing binary is a
 * clear error at start instead of an asynchronous 'error' event later.
 */
export class Child {
  private constructor(
    private readonly proc: ChildProcess,
    readonly exited: Promise<ExitStatus>,
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  static async start(path: string, args: readonly string[], log: Logger): Promise<Child> {
    const proc = spawn(path, args, { stdio: 'inherit' });
    const exited = new Promise<ExitStatus>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'permission denied' : e.message;
        reject(new HelperError('child', `cmd ${JSON.stringify(path)} cannot be started: ${why}`, { cause: e }));
      });
    });
    return new Child(proc, exited, path, log);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends a signal if the process is still there; a process that just exited is not an error. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    try {
      return this.proc.kill(sig);
    } catch (e) {
      this.log.warn('could not signal child', { cmd: this.name, pid: this.pid, signal: sig, error: (e as Error).message });
      return false;
    }
  }

  /** `sig` first, SIGKILL after `graceMs`: the helper never leaves an orphan behind. */
  async stop(sig: NodeJS.Signals, graceMs: number): Promise<ExitStatus> {
    this.signal(sig);
    const grace = new AbortController();
    const outcome = await Promise.race([this.exited, sleep(graceMs, 'timeout' as const, { signal: grace.signal }).catch(() => 'timeout' as const)]);
    grace.abort();
    if (outcome !== 'timeout') return outcome;
    this.log.warn('child did not stop in time; killing it', { cmd: this.name, pid: this.pid, grace_ms: graceMs });
    this.signal('SIGKILL');
    return this.exited;
  }
}
