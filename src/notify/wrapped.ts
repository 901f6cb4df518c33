import type { CommandConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { sleep } from '../timer.js';
import { Backoff } from '../backoff.js';
import { Child, describeExit, exitCodeOf, type ExitStatus } from './child.js';
import type { Notifier } from './notifier.js';

/**
 * `cmd` with `renew_signal`: a long-lived program (nginx) that the helper wraps the way an init
 * wraps a service. Started once the first identity is on disk, signalled after each rotation,
 * sent the signals the helper receives; when it exits the helper exits with its code, unless
 * the restart policy says to start it again: at once (`always`, `on-failure`), or at the next
 * rotation (`next-rotation`, the Go helper's behaviour: its cmd is whatever runs after each
 * rotation, and the helper keeps going without it meanwhile).
 */
export class WrappedProgram implements Notifier {
  private child: Child | undefined;
  /** A start under way: a stop waits for it, then stops what it started. */
  private launching: Promise<Child> | undefined;
  private stopping = false;
  /** A child has exited before (a launch at a rotation is then a restart). */
  private exited = false;
  private readonly abort = new AbortController();
  private resolveDone!: (code: number) => void;
  readonly done = new Promise<number>((r) => (this.resolveDone = r));

  constructor(
    private readonly cmd: CommandConfig,
    private readonly renewSignal: NodeJS.Signals,
    private readonly log: Logger,
    /** Called after each restart under cmd_restart_policy (for metrics). */
    private readonly onRestart?: () => void,
  ) {}

  async rotated(): Promise<void> {
    if (this.child) {
      if (this.child.signal(this.renewSignal)) this.log.info('signalled cmd after rotation', { pid: this.child.pid, signal: this.renewSignal });
      return;
    }
    if (this.stopping) return;
    const child = await this.launch();
    if (this.exited) this.onRestart?.();
    void this.supervise(child);
  }

  forward(sig: NodeJS.Signals): void {
    if (this.child?.signalGroup(sig)) this.log.info('forwarded signal to cmd', { pid: this.child.pid, signal: sig });
  }

  async stop(sig: NodeJS.Signals): Promise<number | undefined> {
    this.stopping = true;
    this.abort.abort();
    await this.launching?.catch(() => undefined);
    const child = this.child;
    if (!child) return undefined;
    const status = await child.stop(sig, this.cmd.stopGraceMs);
    this.log.info('cmd stopped', { pid: child.pid, status: describeExit(status) });
    return exitCodeOf(status);
  }

  private launch(): Promise<Child> {
    this.launching = Child.start(this.cmd.path, this.cmd.args, this.log).then((child) => {
      this.child = child;
      this.log.info('cmd started', { cmd: this.cmd.path, pid: child.pid });
      return child;
    });
    return this.launching.finally(() => (this.launching = undefined));
  }

  private async supervise(first: Child): Promise<void> {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
    let child = first;
    for (;;) {
      const startedAt = performance.now();
      const status = await child.exited;
      if (this.stopping) return this.resolveDone(exitCodeOf(status));
      this.log.warn('cmd exited', { pid: child.pid, status: describeExit(status), policy: this.cmd.restartPolicy });
      if (this.cmd.restartPolicy === 'next-rotation') {
        // No child from here on: the next rotation starts one instead of signalling.
        this.child = undefined;
        this.exited = true;
        await child.stopLeftovers(this.cmd.stopGraceMs);
        this.log.info('cmd will be started again at the next rotation', { policy: this.cmd.restartPolicy });
        return;
      }
      // Before a restart or the helper's exit: what a failed program forked must not pile up.
      await child.stopLeftovers(this.cmd.stopGraceMs);
      if (!this.shouldRestart(status)) return this.resolveDone(exitCodeOf(status));
      // A program that ran for a while before failing gets a fresh backoff.
      if (performance.now() - startedAt > 60_000) backoff.reset();
      try {
        await sleep(backoff.next(), this.abort.signal);
        child = await this.launch();
        this.onRestart?.();
      } catch (e) {
        if (this.stopping) return this.resolveDone(exitCodeOf(status));
        this.log.error('cmd could not be restarted', { error: (e as Error).message });
        return this.resolveDone(exitCodeOf(status));
      }
    }
  }

  private shouldRestart(s: ExitStatus): boolean {
    if (this.cmd.restartPolicy === 'always') return true;
    return this.cmd.restartPolicy === 'on-failure' && exitCodeOf(s) !== 0;
  }
}
