import type { CommandConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { Child, describeExit } from './child.js';
import { never, type Notifier } from './notifier.js';

/**
 * `cmd` without `renew_signal`: a reload command run once per rotation (the Go helper's
 * `mysql -e "ALTER INSTANCE RELOAD TLS"` pattern). Its exit status is logged and never ends
 * the helper. Rotations during a run are coalesced into one more run afterwards.
 */
export class ReloadCommand implements Notifier {
  /** The run in progress, from the moment it is spawned: `child` is set once it has started. */
  private running: { child?: Child; since: number } | undefined;
  private queued = false;
  private loop: Promise<void> | undefined;
  /** Set by stop(): a command still starting then is stopped as soon as it has started. */
  private stoppedBy: NodeJS.Signals | undefined;
  readonly done = never;

  constructor(
    private readonly cmd: CommandConfig,
    private readonly log: Logger,
  ) {}

  rotated(): Promise<void> {
    // A hung command (a database that does not answer) holds every later reload back: say so.
    if (this.running && !this.queued) {
      const { child, since } = this.running;
      this.log.warn('reload command still running; this rotation is reloaded once it exits', { cmd: this.cmd.path, pid: child?.pid, running_ms: Math.round(performance.now() - since) });
    }
    this.queued = true;
    this.loop ??= this.drain().finally(() => (this.loop = undefined));
    return Promise.resolve();
  }

  forward(): void {
    // A reload command is short-lived; signals to the helper are not meant for it.
  }

  async stop(sig: NodeJS.Signals): Promise<undefined> {
    this.stoppedBy = sig;
    // One still starting is stopped by drain() as soon as it has started.
    await this.running?.child?.stop(sig, this.cmd.stopGraceMs);
    await this.loop;
    return undefined;
  }

  /** Settles when no run is in progress or queued (for tests and orderly shutdown). */
  idle(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    while (this.queued && !this.stoppedBy) {
      this.queued = false;
      // A rotation while the command is still starting finds it running too: said once, as later.
      this.running = { since: performance.now() };
      try {
        const child = await Child.start(this.cmd.path, this.cmd.args, this.log);
        this.running.child = child;
        if (this.stoppedBy) void child.stop(this.stoppedBy, this.cmd.stopGraceMs);
        const status = await child.exited;
        // A reload command that backgrounds something must not leave it behind either.
        await child.stopLeftovers(this.cmd.stopGraceMs);
        const level = status.code === 0 ? 'info' : 'warn';
        this.log[level]('reload command finished', { cmd: this.cmd.path, status: describeExit(status) });
      } catch (e) {
        this.log.error('reload command could not be run', { error: (e as Error).message });
      } finally {
        this.running = undefined;
      }
    }
  }
}
