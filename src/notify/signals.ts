/**
 * The helper's own signal handling: SIGINT and SIGTERM stop it (and are passed on to a
 * wrapped program as it stops); SIGHUP, SIGUSR1 and SIGUSR2 are forwarded to a wrapped
 * program, since a wrapper that swallows them breaks `kill -HUP` reloads of the real program.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export const FORWARDED_SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

export class SignalHub {
  private readonly controller = new AbortController();
  private forwardTo: ((sig: NodeJS.Signals) => void) | undefined;
  stoppedBy: (typeof STOP_SIGNALS)[number] | undefined;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  install(): this {
    for (const sig of STOP_SIGNALS) {
      process.on(sig, () => {
        this.stoppedBy ??= sig;
        this.controller.abort(new Error(`stopped by ${sig}`));
      });
    }
    for (const sig of FORWARDED_SIGNALS) process.on(sig, () => this.forwardTo?.(sig));
    return this;
  }

  /** Where SIGHUP/SIGUSR1/SIGUSR2 go; without a receiver they are ignored (not fatal, as Node's default would be). */
  onForward(fn: (sig: NodeJS.Signals) => void): void {
    this.forwardTo = fn;
  }
}
