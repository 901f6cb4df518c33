/**
 * The JWT pipeline: FetchJWTBundles → validated bundle set → the bundle file; FetchJWTSVID →
 * a token picked by hint and validated against that set → its file, kept fresh; each write →
 * health → notification (only for a config without X.509 output: see Notification.firstReady).
 */
import { describeError } from '../errors.js';
import { JwtBundleWatch } from '../jwt/bundle-watch.js';
import { fetchJwtSvid } from '../jwt/fetch.js';
import { keepJwtSvidFresh } from '../jwt/refresh.js';
import { JwtWriter } from '../output/jwt-writer.js';
import type { JwtBundleSet } from '../spiffe/jwtbundle.js';
import { UpdateScheduler } from '../update-scheduler.js';
import { timedOut, type DaemonRun, type OnceRun, type Pipeline } from './pipeline.js';

export const jwtPipeline: Pipeline = {
  /**
   * Waits for the first valid bundle set, writes the bundle file, then fetches, validates and
   * writes every JWT-SVID. An invalid token fails at once; waiting for the agent or for a valid
   * bundle ends when `signal` aborts.
   */
  async once(run: OnceRun): Promise<void> {
    const { config, client, log, signal } = run;
    const writer = new JwtWriter(config, log, run.guard);
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
      throw (signal.aborted && timedOut(run, `gave up waiting for ${waitingFor}`)) || e;
    } finally {
      stop.abort();
      await watching;
    }
  },

  /**
   * Rewrites the bundle file on every change and keeps every JWT-SVID file fresh. Rejects on
   * the first error that retrying cannot fix, after stopping the rest.
   */
  async daemon(run: DaemonRun): Promise<void> {
    const { config, client, log, health, notify, identity } = run;
    const writer = new JwtWriter(config, log, run.guard);
    // With no X.509 output there is no rotation to wait for: cmd starts once every token is on disk.
    const written = (): void => {
      if (!config.x509 && health.ready()) void notify.firstReady();
    };
    const failed = new AbortController();
    const signal = AbortSignal.any([run.signal, failed.signal]);
    const bundleFile = config.jwtBundleFileName;
    const bundleWrites =
      bundleFile === undefined
        ? undefined
        : new UpdateScheduler<JwtBundleSet>({
            // Nobody is signalled for the bundle file: it is written as each set comes.
            quietMs: 0,
            settleMs: 0,
            apply: async (set) => {
              health.jwtBundleWriting();
              const { files, changed } = await writer.writeBundles(set);
              health.jwtBundleWritten(files, changed);
              written();
              return false;
            },
            onFailure: (e, retryInMs) => {
              health.jwtBundleFailed(describeError(e));
              log.error('jwt bundle write failed; retrying', { file: bundleFile, error: describeError(e), retry_in_ms: retryInMs });
            },
          });
    const bundles = new JwtBundleWatch(bundleWrites ? (set) => bundleWrites.offer(set) : undefined, log);
    const tasks = [
      bundles.run(client, signal),
      ...config.jwtSvids.map((entry) =>
        keepJwtSvidFresh({
          client,
          entry,
          hint: config.hint,
          bundles,
          identity,
          writer,
          log,
          signal,
          onWriting: () => health.jwtWriting(entry.fileName),
          onWritten: (changed, expiry) => {
            health.jwtWritten(entry.fileName, expiry, changed);
            written();
          },
          onUnusable: (why) => health.jwtUnusable(entry.fileName, why),
          onFailed: (error, cause) => health.jwtFailed(entry.fileName, error, cause),
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
  },
};
