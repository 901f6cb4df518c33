import { HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { NextValue } from '../next-value.js';
import type { JwtBundleSet } from '../spiffe/jwtbundle.js';
import { watchJwtBundles } from '../workload/api.js';
import type { WorkloadClient } from '../workload/client.js';

/**
 * The FetchJWTBundles stream as a value that is always the last good bundle set. Tokens
 * cannot be validated before the first set arrives, so `first()` lets them wait for it.
 * A malformed message is reported by the client and the previous set stays in force.
 */
export class JwtBundleWatch {
  private latest: JwtBundleSet | undefined;
  private readonly arrived: Promise<JwtBundleSet>;
  private settle!: { resolve(set: JwtBundleSet): void; reject(reason: unknown): void };

  /** What the last message's bundles left out, so that it is logged once, not per message. */
  private ignored = '';

  /**
   * How many times the agent issued an identity again after redacting it (FetchJWTBundles
   * PERMISSION_DENIED after an answer): a token fetched before may be for an identity it no
   * longer issues (the entry replaced by one with another SPIFFE ID), whatever the bundle says.
   */
  reissues = 0;
  private redacted = false;

  /** For callers of next(): each valid set. */
  private readonly sets = new NextValue<JwtBundleSet>();

  /** `onUpdate` runs for every valid message, changed or not: the writer skips what it already wrote. */
  constructor(
    private readonly onUpdate?: (set: JwtBundleSet) => void,
    private readonly log?: Logger,
  ) {
    this.arrived = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Whoever awaits first() sees the rejection; nobody awaiting it is not an error.
    this.arrived.catch(() => undefined);
  }

  current(): JwtBundleSet | undefined {
    return this.latest;
  }

  /** The first valid set; rejects if the watch ends (stopped, or failed fatally) before one came. */
  first(): Promise<JwtBundleSet> {
    return this.arrived;
  }

  /** The next valid set to arrive after this call; rejects with `signal`'s reason when it aborts first. */
  next(signal: AbortSignal): Promise<JwtBundleSet> {
    return this.sets.next(signal);
  }

  private logIgnored(set: JwtBundleSet): void {
    const lines = [...set.values()].flatMap((b) => b.ignored.map((why) => `${b.trustDomain.name}: ${why}`));
    if (lines.join('\n') === this.ignored) return;
    this.ignored = lines.join('\n');
    for (const line of lines) this.log?.warn('jwt bundle key ignored; the other keys are used', { key: line });
  }

  async run(client: WorkloadClient, signal: AbortSignal): Promise<void> {
    try {
      await watchJwtBundles(client, {
        signal,
        onInterrupted: (error) => {
          if (error.reason === 'identity_redacted') this.redacted = true;
        },
        onUpdate: (set) => {
          if (this.redacted) this.reissues++;
          this.redacted = false;
          this.logIgnored(set);
          this.latest = set;
          this.settle.resolve(set);
          this.onUpdate?.(set);
          this.sets.publish(set);
        },
      });
    } catch (e) {
      this.settle.reject(e);
      throw e;
    }
    this.settle.reject(signal.reason ?? new HelperError('internal', 'the JWT bundle watch stopped'));
  }
}
