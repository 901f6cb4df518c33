/**
 * What the X.509 and JWT pipelines share. Each pipeline is one way through the house: agent
 * message → validated identity (workload/api.ts) → files (output/) → health → notification.
 * The sidecar runs the pipelines a config wants, in one-shot or daemon mode; a pipeline
 * differs between the two only in when it stops and in its last steps.
 */
import type { Config } from '../config/config.js';
import { HelperError } from '../errors.js';
import type { HealthState } from '../health/state.js';
import type { Logger } from '../log.js';
import type { WriteGuard } from '../output/atomic-write.js';
import type { WorkloadClient } from '../workload/client.js';
import type { PickedIdentity } from './identity.js';
import type { Notification } from './notification.js';

export interface Run {
  config: Config;
  client: WorkloadClient;
  log: Logger;
  signal: AbortSignal;
  /** The cert_dir lock's check, for every write the pipeline makes (output-dir-locks.ts). */
  guard: WriteGuard;
}

/** One-shot mode: `signal` also aborts at the deadline, `timeoutMs` from the start (a TimeoutError reason). */
export interface OnceRun extends Run {
  timeoutMs: number;
}

/** Daemon mode: the steps after the files, and what the X.509 pipeline tells the JWT one. */
export interface DaemonRun extends Run {
  health: HealthState;
  notify: Notification;
  identity: PickedIdentity;
}

export interface Pipeline {
  /** Writes the first valid state and returns; rejects when it cannot (a 'timeout' error at the deadline). */
  once(run: OnceRun): Promise<void>;
  /** Keeps the files current until `signal` aborts; rejects on an error that retrying cannot fix. */
  daemon(run: DaemonRun): Promise<void>;
}

/** A one-shot wait that ended at the deadline, as a 'timeout' error naming the last failure; undefined for any other end. */
export function timedOut(run: OnceRun, waitingFor: string): HelperError | undefined {
  if ((run.signal.reason as Error | undefined)?.name !== 'TimeoutError') return undefined;
  return new HelperError('timeout', `${waitingFor}: ${run.client.lastError?.message ?? 'the agent sent nothing'}`);
}
