import type { Server } from 'node:http';
import { basename } from 'node:path';
import type { Config } from './config/config.js';
import { formatDuration } from './config/duration.js';
import { describeError, HelperError, isHelperError } from './errors.js';
import { HealthState, startHealthServer } from './health.js';
import type { Logger } from './log.js';
import type { Notifier } from './notify/notifier.js';
import { PidFileSignaller } from './notify/pid-file.js';
import type { SignalHub } from './notify/signals.js';
// Child processes and JWT code load only for a config that uses them (dynamic imports below).
import { wantsJwt } from './jwt/wants.js';
import { ensureDir } from './output/atomic-write.js';
import { X509Writer, type X509Update } from './output/x509-writer.js';
import { UpdateScheduler } from './update-scheduler.js';
import type { BackoffOptions } from './workload/backoff.js';
import { BundleCache } from './workload/bundle-cache.js';
import { WorkloadClient } from './workload/client.js';
import type { X509SVIDResponseMessage } from './workload/proto.js';
import { logFederatedNotes, parseX509Context } from './workload/x509context.js';

/**
 * Wires the one-way flow: agent message → validated identity → files → notification → health.
 * One-shot and daemon mode share every step; they differ only in when they stop.
 */
export interface SidecarOptions {
  config: Config;
  log: Logger;
  signal: AbortSignal;
  backoff?: BackoffOptions;
}

/** Fetches, writes, returns. Waits through retryable errors until `timeoutMs`. */
export async function runOnce(options: SidecarOptions & { timeoutMs: number }): Promise<void> {
  const { config, log, signal, timeoutMs } = options;
  const client = newClient(options);
  const done = new AbortController();
  const deadline = AbortSignal.timeout(timeoutMs);
  let written = false;
  let fatal: unknown;
  try {
    await ensureDir(config.certDir);
    const writer = await X509Writer.fromConfig(config, log);
    if (writer) {
      await client.watch<X509SVIDResponseMessage>({
        rpc: 'FetchX509SVID',
        signal: AbortSignal.any([signal, deadline, done.signal]),
        onMessage: async (msg) => {
          try {
            const ctx = parseX509Context(msg);
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
    }
    if (wantsJwt(config) && !fatal && (written || !config.x509)) {
      const { fetchJwtOnce } = await import('./jwt/index.js');
      await fetchJwtOnce({ config, client, log, signal: AbortSignal.any([signal, deadline]) });
    }
  } finally {
    client.close();
  }
  if (fatal) throw fatal;
  if (written || !config.x509) return;
  if (signal.aborted) throw signal.reason;
  const why = client.lastError?.message ?? 'the agent sent nothing';
  throw new HelperError('timeout', `no valid X.509-SVID within ${formatDuration(timeoutMs)}: ${why}`);
}

/**
 * Keeps the files current until a stop signal or until a wrapped program exits, then stops
 * everything it started. Resolves with the helper's exit code.
 */
export async function runDaemon(options: Omit<SidecarOptions, 'signal'> & { signals: SignalHub }): Promise<number> {
  const { config, log, signals } = options;
  await ensureDir(config.certDir);
  const health = new HealthState({ certDir: config.certDir, x509: config.x509 !== undefined, jwtFiles: config.jwtSvids.map((j) => j.fileName), jwtBundle: config.jwtBundleFileName !== undefined, log });
  const server = config.health.enabled ? await startHealthServer(config.health, health, log) : undefined;
  const notifiers = await buildNotifiers(config, log, health);
  const jwt = wantsJwt(config) ? await import('./jwt/index.js') : undefined;
  signals.onForward((sig) => notifiers.forEach((n) => n.forward(sig)));

  const stop = new AbortController();
  let fatal: unknown;
  const fail = (e: unknown): void => {
    health.loopsEnded(describeError(e));
    fatal ??= e;
    stop.abort();
  };
  const signal = AbortSignal.any([signals.signal, stop.signal]);
  const client = newClient({ ...options, signal }, health);
  const writer = await X509Writer.fromConfig(config, log);
  const bundleCache = new BundleCache();
  let federatedNotes = '';
  const notifyAll = async (): Promise<void> => {
    for (const n of notifiers) await n.rotated().catch(fail);
  };
  let jwtOnlyStarted = false;

  const x509Writes =
    writer &&
    new UpdateScheduler<X509Update>({
      quietMs: config.updateQuietMs,
      settleMs: config.renewSettleMs,
      apply: async (update) => {
        health.x509Writing();
        if (!(await writer.write(update))) {
          health.x509Unchanged();
          return false;
        }
        const { svid, files } = update;
        health.x509Written({ spiffeId: svid.id.toString(), serial: svid.serial, notAfter: svid.notAfter }, files.map((f) => basename(f.path)));
        await notifyAll();
        return notifiers.length > 0;
      },
      onFailure: (e, retryInMs) => {
        health.x509Failed(describeError(e));
        log.error('x509 write failed; retrying', { error: describeError(e), retry_in_ms: retryInMs });
      },
    });
  const watching =
    writer && x509Writes
      ? client
          .watch<X509SVIDResponseMessage>({
            rpc: 'FetchX509SVID',
            signal,
            // Validation happens here, so that a bad update is refused as it comes. (async: the
            // client expects a rejected promise, not a synchronous throw.)
            onMessage: async (msg) => {
              const ctx = parseX509Context(msg, new Date(), bundleCache);
              federatedNotes = logFederatedNotes(ctx, federatedNotes, log);
              x509Writes.offer(writer.prepare(ctx));
            },
          })
          .catch(fail)
      : Promise.resolve();

  const jwtWatching = jwt
    ? jwt.watchJwt({
        config,
        client,
        log,
        signal,
        onWrite: (e) => {
          if (e.kind === 'jwt-svid') e.files.forEach((f) => health.jwtWritten(f, e.expiry, e.changed));
          else health.jwtBundleWritten(e.files, e.changed);
          // With no X.509 output there is no rotation to wait for: cmd starts once every token is on disk.
          if (!writer && !jwtOnlyStarted && health.ready()) {
            jwtOnlyStarted = true;
            void notifyAll();
          }
        },
        onWriting: (e) => (e.kind === 'jwt-svid' ? health.jwtWriting(e.file) : health.jwtBundleWriting()),
        onFailure: (e) => (e.kind === 'jwt-svid' ? health.jwtFailed(e.file, e.error, e.cause) : health.jwtBundleFailed(e.error)),
      }).catch(fail)
    : Promise.resolve();

  const childExit = Promise.race(notifiers.map((n) => n.done));
  const exitedWith = await Promise.race([childExit, new Promise<undefined>((r) => signal.addEventListener('abort', () => r(undefined), { once: true }))]);
  health.loopsEnded();
  stop.abort();
  await Promise.all([watching, jwtWatching, x509Writes?.stop()]);
  client.close();

  const stopSignal = signals.stoppedBy ?? 'SIGTERM';
  const codes = await Promise.all(notifiers.map((n) => n.stop(stopSignal)));
  await closeServer(server);
  if (fatal) throw fatal;
  if (exitedWith !== undefined) {
    log.info('wrapped cmd exited; helper exits with its code', { exit_code: exitedWith });
    return exitedWith;
  }
  // A wrapper exits with the code of the program it stopped, as `docker stop` callers expect.
  const code = codes.find((c) => c !== undefined) ?? 0;
  log.info('stopped', { signal: signals.stoppedBy, exit_code: code });
  return code;
}

async function buildNotifiers(config: Config, log: Logger, health: HealthState): Promise<Notifier[]> {
  const notifiers: Notifier[] = [];
  if (config.cmd) {
    const { WrappedProgram } = await import('./notify/wrapped.js');
    const { ReloadCommand } = await import('./notify/reload.js');
    notifiers.push(config.renewSignal ? new WrappedProgram(config.cmd, config.renewSignal, log, () => health.childRestarted()) : new ReloadCommand(config.cmd, log));
  }
  if (config.pidFileName && config.renewSignal) notifiers.push(new PidFileSignaller(config.pidFileName, config.renewSignal, log));
  return notifiers;
}

function newClient(options: SidecarOptions, health?: HealthState): WorkloadClient {
  const { config, log } = options;
  log.info('connecting to the workload api', { address: config.agentAddress.target, source: config.agentAddressSource });
  return new WorkloadClient({
    address: config.agentAddress,
    log,
    backoff: options.backoff,
    onRetry: health && ((rpc, e) => health.agentError(rpc, e)),
    onRefused: health && ((rpc, e) => health.refused(rpc, e)),
    onAnswer: health && ((rpc) => health.agentAnswered(rpc)),
  });
}

function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}


