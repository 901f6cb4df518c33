/**
 * The last step of a pipeline in daemon mode: whoever must learn that new files are in place
 * (a wrapped program, a reload command, a process named by a pid file), told one after the
 * other once a write has returned.
 */
import type { Config } from '../config/config.js';
import type { HealthState } from '../health/state.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../notify/notifier.js';
import { PidFileSignaller } from '../notify/pid-file.js';

export class Notification {
  private started = false;
  /** Resolves with an exit code when the helper itself should exit (a wrapped program ended). */
  readonly done: Promise<number>;

  private constructor(
    private readonly notifiers: readonly Notifier[],
    private readonly onError: (e: unknown) => void,
  ) {
    this.done = Promise.race(notifiers.map((n) => n.done));
  }

  /** Child processes load only for a config that starts one. `onError`: a notifier failed for good. */
  static async fromConfig(config: Config, log: Logger, health: HealthState, onError: (e: unknown) => void): Promise<Notification> {
    const notifiers: Notifier[] = [];
    if (config.cmd) {
      const { WrappedProgram } = await import('../notify/wrapped.js');
      const { ReloadCommand } = await import('../notify/reload.js');
      notifiers.push(config.renewSignal ? new WrappedProgram(config.cmd, config.renewSignal, log, () => health.childRestarted()) : new ReloadCommand(config.cmd, log));
    }
    if (config.pidFileName && config.renewSignal) notifiers.push(new PidFileSignaller(config.pidFileName, config.renewSignal, log));
    return new Notification(notifiers, onError);
  }

  /** New files are in place. Resolves true when a program was told (it may still be reading them). */
  async rotated(): Promise<boolean> {
    for (const n of this.notifiers) await n.rotated().catch(this.onError);
    return this.notifiers.length > 0;
  }

  /**
   * For a config with no X.509 output there is no rotation to wait for: the program starts
   * once, when every output is first on disk.
   */
  async firstReady(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.rotated();
  }

  forward(sig: NodeJS.Signals): void {
    this.notifiers.forEach((n) => n.forward(sig));
  }

  /** Shutdown: the exit codes of what the notifiers started. */
  stop(sig: NodeJS.Signals): Promise<(number | undefined)[]> {
    return Promise.all(this.notifiers.map((n) => n.stop(sig)));
  }
}
