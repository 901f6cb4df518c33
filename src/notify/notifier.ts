/**
 * Whatever must learn that new files are in place: a wrapped program, a reload command, the
 * process named by a pid file. `rotated` is called by the notification step of a pipeline
 * (pipeline/notification.ts), one call at a time: after each X.509 set written whole (the X.509
 * files then stay unchanged for at least `renew_settle_period`), or, for a config without
 * X.509 output, once, when every JWT output is first on disk (JWT files are rewritten as
 * tokens and bundles change, and are never waited for).
 */
export interface Notifier {
  rotated(): Promise<void>;
  /** Signals sent to the helper that the wrapped program should get too. */
  forward(sig: NodeJS.Signals): void;
  /**
   * Shutdown: stop whatever this notifier started; resolves when it is gone, with the exit
   * code of a wrapped program (the helper's own exit code), else undefined.
   */
  stop(sig: NodeJS.Signals): Promise<number | undefined>;
  /** Resolves with an exit code when the helper itself should exit (the wrapped program ended). */
  readonly done: Promise<number>;
}

/** A promise that never settles, for notifiers that never end the helper. */
export const never = new Promise<number>(() => undefined);
