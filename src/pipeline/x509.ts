/**
 * The X.509 pipeline: FetchX509SVID → validated X.509 context → the SVID the config asks
 * for, rendered into its files (output/x509-writer.ts) → written → health → notification.
 */
import { relative } from 'node:path';
import { formatDuration } from '../config/duration.js';
import { describeError, isHelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { X509Writer, type X509Update } from '../output/x509-writer.js';
import { BundleCache } from '../spiffe/bundle-cache.js';
import type { X509Context } from '../spiffe/x509context.js';
import { UpdateScheduler } from '../update-scheduler.js';
import { watchX509Context } from '../workload/api.js';
import { timedOut, type DaemonRun, type OnceRun, type Pipeline } from './pipeline.js';

export const x509Pipeline: Pipeline = {
  /** Waits through retryable errors and bad updates for the first context that can be written. */
  async once(run: OnceRun): Promise<void> {
    const { config, client, log } = run;
    const writer = (await X509Writer.fromConfig(config, log, run.guard))!;
    const done = new AbortController();
    let written = false;
    let fatal: unknown;
    await watchX509Context(client, {
      signal: AbortSignal.any([run.signal, done.signal]),
      onUpdate: async (ctx) => {
        try {
          logFederatedNotes(ctx, '', log);
          await writer.apply(ctx);
          written = true;
        } catch (e) {
          // A bad update may be followed by a good one; a disk that refuses writes will not heal.
          if (!isHelperError(e, 'output')) throw e;
          fatal = e;
        }
        done.abort();
      },
    });
    if (fatal) throw fatal;
    if (!written) throw timedOut(run, `no valid X.509-SVID within ${formatDuration(run.timeoutMs)}`) ?? run.signal.reason;
  },

  /** Every valid context is offered to the scheduler, which writes the newest when it may. */
  async daemon(run: DaemonRun): Promise<void> {
    const { config, client, log, health, notify, identity } = run;
    const writer = (await X509Writer.fromConfig(config, log, run.guard))!;
    const writes = new UpdateScheduler<X509Update>({
      quietMs: config.updateQuietMs,
      settleMs: config.renewSettleMs,
      apply: async (update) => {
        health.x509Writing();
        if (!(await writer.write(update))) {
          health.x509Unchanged();
          return false;
        }
        const { svid, files } = update;
        // Names as configured (relative to cert_dir): a file name may be a path (Go's file model).
        health.x509Written(
          { spiffeId: svid.id.toString(), serial: svid.serial, notAfter: svid.notAfter },
          files.map((f) => relative(config.certDir, f.path)),
        );
        return notify.rotated();
      },
      onFailure: (e, retryInMs) => {
        health.x509Failed(describeError(e));
        log.error('x509 write failed; retrying', { error: describeError(e), retry_in_ms: retryInMs });
      },
    });
    let federatedNotes = '';
    try {
      await watchX509Context(client, {
        signal: run.signal,
        cache: new BundleCache(),
        // Rendering happens here, so that an update that cannot be used is refused as it comes.
        onUpdate: (ctx) => {
          federatedNotes = logFederatedNotes(ctx, federatedNotes, log);
          let update: X509Update;
          try {
            update = writer.prepare(ctx);
          } catch (e) {
            if (isHelperError(e) && e.reason === 'hint_not_sent') identity.picked('');
            throw e;
          }
          identity.picked(update.svid.id.toString());
          writes.offer(update);
        },
      });
    } finally {
      await writes.stop();
    }
  },
};

/**
 * Log lines about federated bundles (empty ones, certificates left out) when they change, not
 * on every message; returns what to pass as `before` next time ('' at first).
 */
function logFederatedNotes(ctx: X509Context, before: string, log: Logger): string {
  const now = JSON.stringify([ctx.emptyFederatedDomains, ctx.ignoredFederated]);
  if (now === before) return now;
  if (ctx.emptyFederatedDomains.length > 0) {
    log.info('federated trust domains with an empty x509 bundle: nothing of theirs is trusted or written', { trust_domains: ctx.emptyFederatedDomains.join(',') });
  }
  for (const detail of ctx.ignoredFederated) log.warn('federated bundle content left out', { detail });
  return now;
}
