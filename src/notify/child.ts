import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../timer.js';
import { newMark, ProcessGroup } from './process-group.js';

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

/** After SIGKILL: how long to wait for the kernel to tear the group down before saying so. */
const KILL_WAIT_MS = 5000;

/** Groups not yet seen empty. */
const live = new Set<ProcessGroup>();
// Last resort for an exit that skips the orderly stop (an uncaught error): no group outlives
// the helper. A helper killed by SIGKILL runs nothing; see README "Guarantees".
process.on('exit', () => {
  for (const g of live) g.signalAllSync('SIGKILL');
});

/**
 * One started program with inherited stdio, in a process group of its own and with a mark in
 * its environment, so that whatever it forks can be signalled and stopped with it. Spawning is awaited, so a missing binary is a
 * clear error at start instead of an asynchronous 'error' event later.
 *
 * The group is a new session, so the terminal's Ctrl-C no longer reaches the program directly:
 * the helper gets it and passes it on (stop, forward).
 */
export class Child {
  private stopping: Promise<ExitStatus> | undefined;

  private constructor(
    private readonly proc: ChildProcess,
    readonly exited: Promise<ExitStatus>,
    private readonly group: ProcessGroup,
    private readonly name: string,
    private readonly log: Logger,
  ) {}

  static async start(path: string, args: readonly string[], log: Logger): Promise<Child> {
    const mark = newMark();
    const [name, value] = mark.split('=') as [string, string];
    const proc = spawn(path, args, { stdio: 'inherit', detached: true, env: { ...process.env, [name]: value } });
    const exited = new Promise<ExitStatus>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'permission denied' : e.message;
        reject(new HelperError('child', `cmd ${JSON.stringify(path)} cannot be started: ${why}`, { cause: e }));
      });
    });
    const group = new ProcessGroup(proc.pid!, mark);
    live.add(group);
    return new Child(proc, exited, group, path, log);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * To the program itself: `renew_signal` is its reload protocol (nginx's master reloads and
   * replaces its workers; a worker must not get it too).
   */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    return this.tryTo(sig, () => this.proc.kill(sig));
  }

  /** To every process of the program, as a terminal sends Ctrl-C to a whole job. */
  signalGroup(sig: NodeJS.Signals): boolean {
    return this.tryTo(sig, () => this.group.signal(sig));
  }

  /**
   * Stops the program and everything it started: `sig` to the group, SIGKILL to the group
   * after `graceMs`. Resolves with the program's exit status once no process of the group is
   * left; after a program that already exited, stops what it left behind.
   */
  stop(sig: NodeJS.Signals, graceMs: number): Promise<ExitStatus> {
    return (this.stopping ??= this.stopGroup(sig, graceMs));
  }

  /** After the program exited on its own: stops the processes it left in its group, if any. */
  async stopLeftovers(graceMs: number): Promise<void> {
    await this.exited;
    const left = await this.group.members();
    if (left.length === 0) return this.forget();
    this.log.warn('cmd exited and left processes behind; stopping them', { cmd: this.name, pgid: this.pid, pids: left.join(',') });
    await this.stop('SIGTERM', graceMs);
  }

  private async stopGroup(sig: NodeJS.Signals, graceMs: number): Promise<ExitStatus> {
    await this.signalAll(sig);
    if (!(await this.emptyWithin(graceMs))) {
      this.log.warn('cmd did not stop in time; killing its process group', { cmd: this.name, pgid: this.pid, grace_ms: graceMs });
      await this.signalAll('SIGKILL');
      if (!(await this.emptyWithin(KILL_WAIT_MS))) {
        const left = await this.group.members();
        this.log.error('processes of cmd outlived SIGKILL', { cmd: this.name, pgid: this.pid, pids: left.join(',') });
      }
    }
    const status = await this.exited;
    if ((await this.group.members()).length === 0) this.forget();
    return status;
  }

  /** True once the program has exited and its group is empty, false if `ms` pass first. */
  private async emptyWithin(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    const wait = new AbortController();
    // While the program runs its exit is the event to wait for; only then is /proc polled.
    const leaderGone = await Promise.race([
      this.exited.then(() => true),
      sleep(ms, wait.signal).then(
        () => false,
        () => false,
      ),
    ]);
    wait.abort();
    if (!leaderGone) return false;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      if ((await this.group.members()).length === 0) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await sleep(Math.min(pause, left));
    }
  }

  /** The group and the processes that left it: what stopping must reach. */
  private async signalAll(sig: NodeJS.Signals): Promise<void> {
    try {
      await this.group.signalAll(sig);
    } catch (e) {
      this.log.warn('could not signal child', { cmd: this.name, pid: this.pid, signal: sig, error: (e as Error).message });
    }
  }

  private forget(): void {
    live.delete(this.group);
  }

  private tryTo(sig: NodeJS.Signals, send: () => boolean): boolean {
    try {
      return send();
    } catch (e) {
      this.log.warn('could not signal child', { cmd: this.name, pid: this.pid, signal: sig, error: (e as Error).message });
      return false;
    }
  }
}
