/**
 * Notices an agent that is there but no longer (or never) answers, which no socket error
 * reports: no SETTINGS within `connectTimeoutMs` of connecting (a wedged agent, or a program
 * that accepts connections and is not an HTTP/2 server), and, while streams are open, a PING
 * every `keepaliveMs` left without an ack for `keepaliveTimeoutMs` (a frozen agent). Timers
 * never keep the process alive: only open streams do.
 */
export interface LivenessOptions {
  /** No SETTINGS from the peer within this of connecting: the connection is dead; 0: never. */
  connectTimeoutMs: number;
  /** PING this often while a stream is open; 0: never. */
  keepaliveMs: number;
  /** No PING ack within this: the connection is dead. */
  keepaliveTimeoutMs: number;
}

export class Liveness {
  private settingsDeadline: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private pingDeadline: NodeJS.Timeout | undefined;

  /**
   * @param ping sends a PING
   * @param dead closes the connection with the reason
   */
  constructor(
    private readonly options: LivenessOptions,
    private readonly ping: () => void,
    private readonly dead: (reason: string) => void,
  ) {
    const { connectTimeoutMs } = options;
    if (connectTimeoutMs <= 0) return;
    this.settingsDeadline = setTimeout(() => this.dead(`no HTTP/2 SETTINGS from the agent within ${connectTimeoutMs} ms of connecting: it is stuck, or not an HTTP/2 server`), connectTimeoutMs);
    this.settingsDeadline.unref();
  }

  /** The peer's SETTINGS frame arrived: it speaks HTTP/2. */
  settingsReceived(): void {
    clearTimeout(this.settingsDeadline);
    this.settingsDeadline = undefined;
  }

  /** A stream is open: PING while it lasts (idempotent). */
  streamsOpen(): void {
    const { keepaliveMs, keepaliveTimeoutMs } = this.options;
    if (keepaliveMs <= 0 || this.keepaliveTimer) return;
    this.keepaliveTimer = setInterval(() => {
      if (this.pingDeadline) return;
      this.ping();
      this.pingDeadline = setTimeout(() => this.dead(`keepalive: the agent did not answer a PING within ${keepaliveTimeoutMs} ms`), keepaliveTimeoutMs);
      this.pingDeadline.unref();
    }, keepaliveMs);
    this.keepaliveTimer.unref();
  }

  pingAcked(): void {
    clearTimeout(this.pingDeadline);
    this.pingDeadline = undefined;
  }

  /** No stream is open any more: no PINGs (an idle connection is not kept alive). */
  streamsClosed(): void {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    this.pingAcked();
  }

  /** The connection is gone. */
  stop(): void {
    this.settingsReceived();
    this.streamsClosed();
  }
}
