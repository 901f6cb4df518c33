import { Backoff, type BackoffOptions } from '../backoff.js';
import type { JwtSvidOutput } from '../config/config.js';
import { describeError, isHelperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JwtWriter } from '../output/jwt-writer.js';
import { parseAndValidateJwtSvid, type JwtSvid } from '../spiffe/jwtsvid.js';
import { MAX_TIMER_MS, sleep } from '../timer.js';
import type { WorkloadClient } from '../workload/client.js';
import type { JwtBundleSet } from '../spiffe/jwtbundle.js';
import type { JwtBundleWatch } from './bundle-watch.js';
import { fetchJwtSvid } from './fetch.js';

export interface RefreshOptions {
  client: WorkloadClient;
  entry: JwtSvidOutput;
  hint: string;
  bundles: JwtBundleWatch;
  /** The identity the X.509 stream shows (daemon with X.509 output): a change means fetch now. */
  identity?: { changed(signal: AbortSignal): Promise<void> };
  writer: JwtWriter;
  log: Logger;
  signal: AbortSignal;
  /** Between failed refreshes; the Go helper's 1 s doubling to 60 s by default. */
  backoff?: BackoffOptions;
  /** A validated token is about to be written (health: the file changes at the helper's own hand). */
  onWriting?: () => void;
  /** After every successful refresh; `changed` is false when the agent handed out the same token. */
  onWritten?: (changed: boolean, expiry: Date) => void;
  /** The token on disk became useless (`why`: a new JWT bundle no longer verifies it, say); a new one is being fetched. */
  onUnusable?: (why: string) => void;
  /** A refresh failed, or the token on disk expired meanwhile; the last good file stays. */
  onFailed?: (error: string, cause: unknown) => void;
}

/**
 * Keeps one JWT-SVID file fresh until `signal` aborts. A failed refresh (agent down, a token
 * that does not validate, a disk error) is retried with capped backoff while the file keeps
 * the last good token; only a Workload API refusal that retrying cannot fix ends the loop.
 */
export async function keepJwtSvidFresh(o: RefreshOptions): Promise<void> {
  const { entry, log, signal } = o;
  const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000, ...o.backoff });
  let last: JwtSvid | undefined;
  /** o.bundles.reissues when `last` was fetched. */
  let reissues = 0;
  try {
    await o.bundles.first();
  } catch (e) {
    if (signal.aborted) return;
    throw e;
  }
  // The client retries an absent agent forever, so a fetch can outlive the token on disk. Its
  // expiry is reported when it comes (an error in the log, a failure for health), whatever the
  // fetch is doing; the fetch goes on.
  // Each watch ends with the loop too: a token written while the loop was being stopped must not
  // leave its timer behind (it kept the process alive until the token's expiry).
  let expiryWatch: AbortController | undefined;
  const watchExpiry = (svid: JwtSvid): void => {
    expiryWatch?.abort();
    expiryWatch = new AbortController();
    sleep(svid.expiry.getTime() - Date.now(), AbortSignal.any([signal, expiryWatch.signal])).then(
      () => {
        // This refresh's own cause: another RPC's trouble (the X.509 stream's, say) is not it.
        const why = lastFailure ?? o.client.failure('FetchJWTSVID')?.message ?? 'no answer';
        const error = `no valid token from the agent before the current one expired at ${svid.expiry.toISOString()} (${why})`;
        o.onFailed?.(error, undefined);
        log.error('jwt svid refresh failing and the token on disk has expired; retrying', { audience: entry.audience, file: entry.fileName, error });
      },
      () => undefined,
    );
  };
  /** Why the last attempt failed, until the next one begins. */
  let lastFailure: string | undefined;
  while (!signal.aborted) {
    let delay: number;
    lastFailure = undefined;
    try {
      const fetchedAt = o.bundles.reissues;
      const svid = await fetchJwtSvid({ client: o.client, entry, hint: o.hint, bundles: o.bundles.current()!, signal });
      o.onWriting?.();
      const result = await o.writer.writeSvid(entry.fileName, svid);
      if (svid.token !== last?.token) watchExpiry(svid);
      last = svid;
      reissues = fetchedAt;
      backoff.reset();
      o.onWritten?.(result.changed, svid.expiry);
      // Re-issued while this one was fetched: it may name the identity the agent no longer issues.
      delay = o.bundles.reissues === fetchedAt ? refreshDelayMs(svid.expiry, new Date()) : 0;
      log.debug('next jwt svid refresh scheduled', { file: entry.fileName, refresh_at: new Date(Date.now() + delay).toISOString() });
    } catch (e) {
      if (signal.aborted) return;
      if (isHelperError(e, 'workload-api')) throw e;
      delay = backoff.next();
      const error = describeError(e);
      lastFailure = error;
      o.onFailed?.(error, e);
      const fields = { audience: entry.audience, file: entry.fileName, error, retry_in_ms: delay, current_expiry: last?.expiry.toISOString() };
      if (!last) log.warn('jwt svid fetch failed; retrying', fields);
      else if (last.expiry.getTime() <= Date.now()) log.error('jwt svid refresh failed and the token on disk has expired; retrying', fields);
      else log.warn('jwt svid refresh failed; the current token stays until it expires; retrying', fields);
    }
    try {
      await refreshDue(delay, last && { svid: last, reissues }, o);
    } catch {
      return;
    }
  }
}

/**
 * Waits `ms`, or less when the token on disk became useless: a JWT bundle arrived that no longer
 * verifies it (its key revoked, as SPIRE's `localauthority jwt revoke` does, or its trust
 * domain's bundle gone), or the agent redacted the workload's identity and issues one again
 * (the token may be for an identity it no longer issues), or the X.509 stream shows that the
 * identity the hint picks changed or is no longer sent. Waiting for half the token's lifetime
 * would keep a token nobody should accept, so a fresh one is fetched at once: the new identity's,
 * or a refusal that makes the token's output not ready. Rejects when the loop's signal aborts.
 */
async function refreshDue(ms: number, onDisk: { svid: JwtSvid; reissues: number } | undefined, o: RefreshOptions): Promise<void> {
  const done = new AbortController();
  const signal = AbortSignal.any([o.signal, done.signal]);
  const useless = (bundles: JwtBundleSet, svid: JwtSvid, reissues: number): string | undefined => {
    if (o.bundles.reissues !== reissues) return 'the agent redacted this workload’s identity, and issues one again';
    try {
      parseAndValidateJwtSvid(svid.token, { audience: o.entry.audience, bundles });
      return undefined;
    } catch (e) {
      return describeError(e);
    }
  };
  const invalidated = async ({ svid, reissues }: { svid: JwtSvid; reissues: number }): Promise<void> => {
    for (;;) {
      const why = useless(await o.bundles.next(signal), svid, reissues);
      if (why === undefined) continue;
      o.log.warn('the token on disk is no longer usable; refreshing it now', { file: o.entry.fileName, reason: why });
      o.onUnusable?.(why);
      return;
    }
  };
  const identityChanged = async (identity: NonNullable<RefreshOptions['identity']>): Promise<void> => {
    await identity.changed(signal);
    o.log.info('the workload identity on the x509 stream changed; fetching the token again now', { file: o.entry.fileName });
  };
  try {
    await Promise.race([sleep(ms, signal), ...(onDisk ? [invalidated(onDisk)] : []), ...(o.identity ? [identityChanged(o.identity)] : [])]);
  } finally {
    done.abort();
  }
}

/**
 * The Go helper refreshes at half the remaining lifetime plus 1 s: just after an agent that
 * caches tokens (SPIRE re-signs past half-life) has a new one. Below 4 s of remaining life
 * the extra second shrinks, so that the refresh still comes before the expiry.
 */
export function refreshDelayMs(expiry: Date, now: Date): number {
  const remaining = Math.max(0, expiry.getTime() - now.getTime());
  return Math.min(remaining / 2 + Math.min(1000, remaining / 4), MAX_TIMER_MS);
}
