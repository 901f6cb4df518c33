import { setTimeout as sleep } from 'node:timers/promises';
import type { JwtSvidOutput } from '../config/config.js';
import { describeError, isHelperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JwtWriter } from '../output/jwt-writer.js';
import type { JwtSvid } from '../spiffe/jwtsvid.js';
import { MAX_TIMER_MS, timeoutSignal } from '../timer.js';
import { Backoff, type BackoffOptions } from '../workload/backoff.js';
import type { WorkloadClient } from '../workload/client.js';
import type { JwtBundleWatch } from './bundle-watch.js';
import { fetchJwtSvid } from './fetch.js';

export interface RefreshOptions {
  client: WorkloadClient;
  entry: JwtSvidOutput;
  hint: string;
  bundles: JwtBundleWatch;
  writer: JwtWriter;
  log: Logger;
  signal: AbortSignal;
  /** Between failed refreshes; the Go helper's 1 s doubling to 60 s by default. */
  backoff?: BackoffOptions;
  /** After every successful refresh; `changed` is false when the agent handed out the same token. */
  onWriting?: () => void;
  onWritten?: (changed: boolean, expiry: Date) => void;
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
  try {
    await o.bundles.first();
  } catch (e) {
    if (signal.aborted) return;
    throw e;
  }
  while (!signal.aborted) {
    let delay: number;
    let untilExpiry: AbortSignal | undefined;
    try {
      // The client retries an absent agent forever; giving up once when the token on disk
      // expires makes that moment visible (an error in the log, a failure for health). Not
      // AbortSignal.timeout: a token valid for a month would abort every fetch after 1 ms.
      const validFor = last ? last.expiry.getTime() - Date.now() : 0;
      untilExpiry = validFor > 0 ? timeoutSignal(validFor) : undefined;
      const fetchSignal = untilExpiry ? AbortSignal.any([signal, untilExpiry]) : signal;
      const svid = await fetchJwtSvid({ client: o.client, entry, hint: o.hint, bundles: o.bundles.current()!, signal: fetchSignal });
      o.onWriting?.();
      const result = await o.writer.writeSvid(entry.fileName, svid);
      last = svid;
      backoff.reset();
      o.onWritten?.(result.changed, svid.expiry);
      delay = refreshDelayMs(svid.expiry, new Date());
      log.debug('next jwt svid refresh scheduled', { file: entry.fileName, refresh_at: new Date(Date.now() + delay).toISOString() });
    } catch (e) {
      if (signal.aborted) return;
      if (isHelperError(e, 'workload-api')) throw e;
      delay = backoff.next();
      const error = untilExpiry?.aborted
        ? `no valid token from the agent before the current one expired (${o.client.lastError?.message ?? 'no answer'})`
        : describeError(e);
      o.onFailed?.(error, e);
      const fields = { audience: entry.audience, file: entry.fileName, error, retry_in_ms: delay, current_expiry: last?.expiry.toISOString() };
      if (!last) log.warn('jwt svid fetch failed; retrying', fields);
      // untilExpiry fires on the monotonic clock, which may be a millisecond ahead of Date.now():
      // its firing is what says the token has expired.
      else if (untilExpiry?.aborted || last.expiry.getTime() <= Date.now()) log.error('jwt svid refresh failed and the token on disk has expired; retrying', fields);
      else log.warn('jwt svid refresh failed; the current token stays until it expires; retrying', fields);
    }
    try {
      await sleep(delay, undefined, { signal });
    } catch {
      return;
    }
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
