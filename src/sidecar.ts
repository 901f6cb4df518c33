import type { Config } from './config/config.js';
import { formatDuration } from './config/duration.js';
import { HelperError, isHelperError } from './errors.js';
import type { Logger } from './log.js';
import { ensureDir } from './output/atomic-write.js';
import { X509Writer, type WriteResult } from './output/x509-writer.js';
import type { BackoffOptions } from './workload/backoff.js';
import { WorkloadClient } from './workload/client.js';
import type { X509SVIDResponseMessage } from './workload/proto.js';
import { parseX509Context } from './workload/x509context.js';

/**
 * Wires the one-way flow: agent message → validated identity → files → notification.
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
    await prepareOutput(config);
    const writer = X509Writer.fromConfig(config, log);
    if (writer) {
      await client.watch<X509SVIDResponseMessage>({
        rpc: 'FetchX509SVID',
        signal: AbortSignal.any([signal, deadline, done.signal]),
        onMessage: async (msg) => {
          try {
            await writer.apply(parseX509Context(msg));
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
 * Keeps the stream open and the files current until `signal` aborts. `onRotation` runs after
 * every set of files is in place (never for an unchanged update).
 */
export async function runDaemon(options: SidecarOptions & { onRotation?: (r: WriteResult & { changed: true }) => void }): Promise<void> {
  const { config, log, signal } = options;
  await prepareOutput(config);
  const client = newClient(options);
  const writer = X509Writer.fromConfig(config, log);
  try {
    if (writer) {
      await client.watch<X509SVIDResponseMessage>({
        rpc: 'FetchX509SVID',
        signal,
        onMessage: async (msg) => {
          const result = await writer.apply(parseX509Context(msg));
          if (result.changed) options.onRotation?.(result);
        },
      });
    }
  } finally {
    client.close();
  }
}

function newClient(options: SidecarOptions): WorkloadClient {
  const { config, log } = options;
  log.info('connecting to the workload api', { address: config.agentAddress.target, source: config.agentAddressSource });
  return new WorkloadClient({ address: config.agentAddress, log, backoff: options.backoff });
}

async function prepareOutput(config: Config): Promise<void> {
  await ensureDir(config.certDir);
}
