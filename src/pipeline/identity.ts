import { NextValue } from '../next-value.js';

/**
 * The workload identity the config's hint picks, as the X.509 stream shows it, told to the JWT
 * pipeline. FetchJWTSVID is a call, not a stream: nothing tells the JWT side that the agent no
 * longer issues the identity a token on disk names while it still issues another (the hinted
 * entry deleted; without a hint, the first entry deleted and another one first now), so such a
 * token would stay "ready" until its refresh at half its lifetime. The X.509 stream does tell.
 */
export class PickedIdentity {
  /** The SPIFFE ID picked from the last X.509 update; '' when the hinted one was not sent. */
  private current: string | undefined;
  private readonly changes = new NextValue<void>();

  /** The X.509 pipeline picked `spiffeId` from an update ('' when the hinted SVID was missing). */
  picked(spiffeId: string): void {
    const before = this.current;
    this.current = spiffeId;
    // The first update is no change: the JWT side fetched for whatever the agent issues.
    if (before === undefined || before === spiffeId) return;
    this.changes.publish();
  }

  /** Resolves at the next change of the picked identity; rejects with `signal`'s reason when it aborts first. */
  changed(signal: AbortSignal): Promise<void> {
    return this.changes.next(signal);
  }
}
