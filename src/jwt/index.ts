import type { Config } from '../config/config.js';
import { describeError, HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { JwtWriter } from '../output/jwt-writer.js';
import type { JwtBundleSet } from '../spiffe/jwtbundle.js';
import { UpdateScheduler } from '../update-scheduler.js';
import type { BackoffOptions } from '../backoff.js';
import type { WorkloadClient } from '../workload/client.js';
import { JwtBundleWatch } from './bundle-watch.js';
import { fetchJwtSvid } from './fetch.js';
import { keepJwtSvidFresh } from './refresh.js';

/**
 * JWT-SVIDs and JWT bundles, one-shot and daemon. The sidecar calls these when
 * `wantsJwt(config)`, with the same client it uses for X.509.
 */
export interface JwtRunOptions {
  config: Config;
  client: WorkloadClient;
  log: Logger;
  signal: AbortSignal;
  /** Between failed JWT-SVID refreshes (daemon). */
  backoff?: BackoffOptions;
}

/** After every successful write attempt; `changed` false: the content on disk was already this. */
export interface JwtWriteEvent {
  kind: 'jwt-svid' | 'jwt-bundle';
  files: string[];
  changed: boolean;
  /** jwt-svid: when the token now in the file expires. */
  expiry?: Date;
}

export interface JwtFailureEvent {
  kind: 'jwt-svid' | 'jwt-bundle';
  /** The configured file name (a pattern for the `jwks` bundle format). */
  file: string;
  error: string;
  /** The error itself: health counts a refused token by its reason. */
  cause?: unknown;
}

export interface JwtWatchHooks {
  /** A write begins (health: the files change at the helper's own hand until it ends). */
  onWriting?: (event: { kind: 'jwt-svid' | 'jwt-bundle'; file: string }) => void;
  /** For notifications (only `changed` ones matter) and health (every one). */
  onWrite?: (event: JwtWriteEvent) => void;
  /** A refresh or bundle write failed; the last good file stays and a retry is scheduled. */
  onFailure?: (event: JwtFailureEvent) => void;
}

export { wantsJwt } from './wants.js';

/**
 * Waits for the first valid bundle set, writes the bundle file, then fetches, validates and
 * writes every JWT-SVID. An invalid token fails at once; waiting for the agent or for a valid
 * bundle ends when `signal` aborts, as a 'timeout' error if it was a timeout.
 */
export async function fetchJwtOnce(o: JwtRunOptions): Promise<void> {
  const { config, client, log, signal } = o;
  const writer = new JwtWriter(config, log);
  const watch = new JwtBundleWatch(undefined, log);
  const stop = new AbortController();
  const watching = watch.run(client, AbortSignal.any([signal, stop.signal])).catch(() => undefined);
  let waitingFor = 'a valid JWT bundle';
  try {
    const bundles = await watch.first();
    await writer.writeBundles(bundles);
    for (const entry of config.jwtSvids) {
      waitingFor = `a JWT-SVID for audience "${entry.audience}"`;
      const svid = await fetchJwtSvid({ client, entry, hint: config.hint, bundles, signal });
      await writer.writeSvid(entry.fileName, svid);
    }
  } catch (e) {
    if (signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError') {
      const why = client.lastError?.message ?? 'the agent sent nothing';
      throw new HelperError('timeout', `gave up waiting for ${waitingFor}: ${why}`);
    }
    throw e;
  } finally {
    stop.abort();
    await watching;
  }
}

/**
 * Until `signal` aborts: rewrites the bundle file on every change and keeps every JWT-SVID
 * file fresh. Rejects on the first error that retrying cannot fix, after stopping the rest.
 */
export async function watchJwt(o: JwtRunOptions & JwtWatchHooks): Promise<void> {
  const { config, client, log } = o;
  const writer = new JwtWriter(config, log);
  const failed = new AbortController();
  const signal = AbortSignal.any([o.signal, failed.signal]);
  const bundleFile = config.jwtBundleFileName;
  const bundleWrites = bundleFile === undefined ? undefined : bundleFileWrites(o, writer, bundleFile);
  const bundles = new JwtBundleWatch(bundleWrites ? (set) => bundleWrites.offer(set) : undefined, log);
  const tasks = [
    bundles.run(client, signal),
    ...config.jwtSvids.map((entry) =>
      keepJwtSvidFresh({
        client,
        entry,
        hint: config.hint,
        bundles,
        writer,
        log,
        signal,
        backoff: o.backoff,
        onWriting: () => o.onWriting?.({ kind: 'jwt-svid', file: entry.fileName }),
        onWritten: (changed, expiry) => o.onWrite?.({ kind: 'jwt-svid', files: [entry.fileName], changed, expiry }),
        onFailed: (error, cause) => o.onFailure?.({ kind: 'jwt-svid', file: entry.fileName, error, cause }),
      }),
    ),
  ];
  const stopOthers = (e: unknown): never => {
    failed.abort(e);
    throw e;
  };
  try {
    await Promise.all(tasks.map((t) => t.catch(stopOthers)));
  } finally {
    failed.abort();
    await Promise.allSettled([...tasks, bundleWrites?.stop()]);
  }
}

/** The bundle file is written as each set comes (nobody is signalled for it); a failed write is tried again. */
function bundleFileWrites(o: JwtRunOptions & JwtWatchHooks, writer: JwtWriter, file: string): UpdateScheduler<JwtBundleSet> {
  return new UpdateScheduler<JwtBundleSet>({
    quietMs: 0,
    settleMs: 0,
    apply: async (set) => {
      o.onWriting?.({ kind: 'jwt-bundle', file });
      o.onWrite?.({ kind: 'jwt-bundle', ...(await writer.writeBundles(set)) });
      return false;
    },
    onFailure: (e, retryInMs) => {
      o.onFailure?.({ kind: 'jwt-bundle', file, error: describeError(e), cause: e });
      o.log.error('jwt bundle write failed; retrying', { file, error: describeError(e), retry_in_ms: retryInMs });
    },
  });
}
