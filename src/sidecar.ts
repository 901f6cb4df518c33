/**
 * Runs the pipelines a config wants (pipeline/: X.509, JWT), one-shot or as a daemon, around
 * what they share: the Workload API client, and in daemon mode health, the health server,
 * the notifiers and the shutdown. One-shot and daemon mode share every step; they differ only
 * in when they stop.
 */
import type { Server } from 'node:http';
import type { BackoffOptions } from './backoff.js';
import type { Config } from './config/config.js';
import { describeError } from './errors.js';
import { startHealthServer } from './health/listener.js';
import { HealthState } from './health/state.js';
import type { Logger } from './log.js';
import type { SignalHub } from './notify/signals.js';
import { ensureDir, type WriteGuard } from './output/atomic-write.js';
import { PickedIdentity } from './pipeline/identity.js';
import { Notification } from './pipeline/notification.js';
import type { Pipeline } from './pipeline/pipeline.js';
import { WorkloadClient } from './workload/client.js';

export interface SidecarOptions {
  config: Config;
  log: Logger;
  signal: AbortSignal;
  backoff?: BackoffOptions;
  /** The cert_dir lock's check before each write (output-dir-locks.ts). */
  guard: WriteGuard;
}

/**
 * The pipelines, in the order a one-shot run writes them (JWT after X.509: a one-shot run that
 * cannot write the X.509 set writes nothing more). Each loads only for a config that wants it.
 */
const PIPELINES: { wanted(config: Config): boolean; load(): Promise<Pipeline> }[] = [
  { wanted: (config) => config.x509 !== undefined, load: async () => (await import('./pipeline/x509.js')).x509Pipeline },
  { wanted: (config) => config.jwtSvids.length > 0 || config.jwtBundleFileName !== undefined, load: async () => (await import('./pipeline/jwt.js')).jwtPipeline },
];

function pipelinesFor(config: Config): Promise<Pipeline[]> {
  return Promise.all(PIPELINES.filter((p) => p.wanted(config)).map((p) => p.load()));
}

/** Fetches, writes, returns. Waits through retryable errors until `timeoutMs`. */
export async function runOnce(options: SidecarOptions & { timeoutMs: number }): Promise<void> {
  const { config, log, timeoutMs, guard } = options;
  const client = newClient(options);
  const run = { config, client, log, guard, timeoutMs, signal: AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) };
  try {
    await ensureDir(config.certDir);
    for (const pipeline of await pipelinesFor(config)) await pipeline.once(run);
  } finally {
    client.close();
  }
}

/**
 * Keeps the files current until a stop signal or until a wrapped program exits, then stops
 * everything it started. Resolves with the helper's exit code.
 */
export async function runDaemon(options: Omit<SidecarOptions, 'signal'> & { signals: SignalHub }): Promise<number> {
  const { config, log, signals, guard } = options;
  await ensureDir(config.certDir);
  const health = new HealthState({ certDir: config.certDir, x509: config.x509 !== undefined, jwtFiles: config.jwtSvids.map((j) => j.fileName), jwtBundleFile: config.jwtBundleFileName, log });
  const server = config.health.enabled ? await startHealthServer(config.health, health, log) : undefined;
  const stop = new AbortController();
  let fatal: unknown;
  const fail = (e: unknown): void => {
    health.loopsEnded(describeError(e));
    fatal ??= e;
    stop.abort();
  };
  const notify = await Notification.fromConfig(config, log, health, fail);
  const pipelines = await pipelinesFor(config);
  signals.onForward((sig) => notify.forward(sig));

  const signal = AbortSignal.any([signals.signal, stop.signal]);
  const client = newClient({ ...options, signal }, health);
  const run = { config, client, log, guard, signal, health, notify, identity: new PickedIdentity() };
  const running = Promise.all(pipelines.map((p) => p.daemon(run).catch(fail)));

  const exitedWith = await Promise.race([notify.done, new Promise<undefined>((r) => signal.addEventListener('abort', () => r(undefined), { once: true }))]);
  health.loopsEnded();
  stop.abort();
  await running;
  client.close();

  const codes = await notify.stop(signals.stoppedBy ?? 'SIGTERM');
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
