import {
  credentials,
  InterceptingCall,
  Metadata,
  status,
  type Client,
  type ClientReadableStream,
  type Interceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EndpointAddress } from './address.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { workloadService } from './proto.js';

/** Every Workload API call must carry this header; agents refuse calls without it. */
export const SECURITY_HEADER = 'workload.spiffe.io';

const headerInterceptor: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set(SECURITY_HEADER, 'true');
      next(metadata, listener);
    },
  });

/** Codes that retrying cannot fix: our request is wrong, or the agent does not speak the API. */
const FATAL = new Set<number>([status.INVALID_ARGUMENT, status.UNIMPLEMENTED]);

export interface WorkloadClientOptions {
  address: EndpointAddress;
  log: Logger;
  backoff?: BackoffOptions;
  /** grpc-js refuses larger messages with RESOURCE_EXHAUSTED; the default 4 MiB is too small for big bundles. */
  maxReceiveBytes?: number;
  /** Called each time a stream is reopened or a call retried, with the reason (for health and metrics). */
  onRetry?: (rpc: string, error: HelperError) => void;
  /** Called when a streamed message is refused (by a throw from `onMessage`). */
  onRefused?: (rpc: string, error: HelperError) => void;
  /** Called for every message and every successful call: the agent answers (again). */
  onAnswer?: (rpc: string) => void;
}

export interface WatchOptions<T> {
  rpc: 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles';
  /** Called for each message, one at a time. A throw is reported; the stream goes on. */
  onMessage(message: T): Promise<void> | void;
  signal: AbortSignal;
}

export class WorkloadClient {
  private readonly client: Client & Record<string, (...args: unknown[]) => unknown>;
  private readonly log: Logger;
  private readonly address: EndpointAddress;
  private readonly backoffOptions: BackoffOptions | undefined;
  private readonly onRetry: WorkloadClientOptions['onRetry'];
  private readonly onRefused: WorkloadClientOptions['onRefused'];
  private readonly onAnswer: WorkloadClientOptions['onAnswer'];
  /** RPCs the agent has answered: a PERMISSION_DENIED after that is a redaction, not "not yet". */
  private readonly answered = new Set<string>();
  /** The most recent reason a call failed: what a one-shot timeout reports. */
  lastError: HelperError | undefined;

  constructor(options: WorkloadClientOptions) {
    const Service = workloadService();
    this.address = options.address;
    this.log = options.log;
    this.backoffOptions = options.backoff;
    this.onRetry = options.onRetry;
    this.onRefused = options.onRefused;
    this.onAnswer = options.onAnswer;
    this.client = new Service(options.address.target, credentials.createInsecure(), {
      interceptors: [headerInterceptor],
      'grpc.max_receive_message_length': options.maxReceiveBytes ?? 32 * 1024 * 1024,
      // A local agent: reconnect quickly instead of grpc's default 1 s..120 s channel backoff.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    }) as WorkloadClient['client'];
  }

  /**
   * Keeps a server stream open for as long as `signal` is not aborted, reconnecting with
   * capped backoff on stream end and on retryable errors. Resolves when aborted; rejects
   * with a 'workload-api' error on a status that retrying cannot fix.
   */
  async watch<T>(options: WatchOptions<T>): Promise<void> {
    const backoff = new Backoff(this.backoffOptions);
    const { signal } = options;
    while (!signal.aborted) {
      const outcome = await this.streamOnce(options, () => backoff.reset());
      if (signal.aborted) return;
      const err = this.classify(options.rpc, outcome);
      if (FATAL.has(outcome?.code ?? -1)) throw err;
      this.lastError = err;
      const delay = backoff.next();
      this.log.warn('workload api stream interrupted; retrying', { rpc: options.rpc, reason: err.message, retry_in_ms: delay });
      this.onRetry?.(options.rpc, err);
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        return;
      }
    }
  }

  /** A unary call, retried like a stream until it succeeds, the signal aborts, or it fails fatally. */
  async unary<T>(rpc: 'FetchJWTSVID' | 'ValidateJWTSVID', request: object, signal: AbortSignal): Promise<T> {
    const backoff = new Backoff(this.backoffOptions);
    for (;;) {
      signal.throwIfAborted();
      try {
        return await this.unaryOnce<T>(rpc, request, signal);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        const err = this.classify(rpc, e as ServiceError);
        if (FATAL.has((e as ServiceError).code)) throw err;
        this.lastError = err;
        const delay = backoff.next();
        this.log.warn('workload api call failed; retrying', { rpc, reason: err.message, retry_in_ms: delay });
        this.onRetry?.(rpc, err);
        await sleep(delay, undefined, { signal });
      }
    }
  }

  close(): void {
    this.client.close();
  }

  private unaryOnce<T>(rpc: string, request: object, signal: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      // Removed when the call ends: daemon signals live for the whole run, calls do not.
      const onAbort = (): void => call.cancel();
      const call = this.client[rpc]!(request, new Metadata(), (err: ServiceError | null, res: T) => {
        signal.removeEventListener('abort', onAbort);
        if (err) return reject(err);
        this.answered.add(rpc);
        this.onAnswer?.(rpc);
        resolve(res);
      }) as { cancel(): void };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One stream's life: resolves with the error that ended it, or undefined for a clean end. */
  private streamOnce<T>(options: WatchOptions<T>, onData: () => void): Promise<ServiceError | undefined> {
    const call = this.client[options.rpc]!({}, new Metadata()) as ClientReadableStream<T>;
    const onAbort = (): void => call.cancel();
    options.signal.addEventListener('abort', onAbort, { once: true });
    // Messages are complete states: while one is being handled only the newest waiting one matters.
    let pending: T | undefined;
    let busy: Promise<void> | undefined;
    const drain = async (): Promise<void> => {
      while (pending !== undefined) {
        const msg = pending;
        pending = undefined;
        try {
          await options.onMessage(msg);
        } catch (e) {
          this.lastError = e instanceof HelperError ? e : new HelperError('internal', describeError(e), { cause: e });
          this.log.error('rejected update from the workload api; keeping the last good state', { rpc: options.rpc, error: describeError(e) });
          this.onRefused?.(options.rpc, this.lastError);
        }
      }
      busy = undefined;
    };
    return new Promise((resolve) => {
      const finish = (err: ServiceError | undefined): void => {
        options.signal.removeEventListener('abort', onAbort);
        void (busy ?? Promise.resolve()).then(() => resolve(err));
      };
      call.on('data', (msg: T) => {
        onData();
        this.answered.add(options.rpc);
        this.onAnswer?.(options.rpc);
        pending = msg;
        busy ??= drain();
      });
      call.on('error', (err: ServiceError) => finish(err));
      call.on('end', () => finish(undefined));
    });
  }

  /** Turns a gRPC status into an error a person can act on. */
  private classify(rpc: string, err: ServiceError | undefined): HelperError {
    const where = this.address.kind === 'unix' ? `socket ${this.address.socketPath}` : this.address.target;
    if (!err) return new HelperError('unavailable', `${rpc}: the agent closed the stream`);
    const details = err.details || err.message;
    switch (err.code) {
      case status.UNAVAILABLE:
        if (/ENOENT/.test(details)) return new HelperError('unavailable', `${rpc}: no agent at ${where} (socket file not found)`);
        if (/ECONNREFUSED/.test(details)) return new HelperError('unavailable', `${rpc}: no agent is listening at ${where}`);
        if (/EACCES/.test(details)) return new HelperError('unavailable', `${rpc}: permission denied opening ${where}`);
        return new HelperError('unavailable', `${rpc}: agent at ${where} unavailable: ${details}`);
      case status.PERMISSION_DENIED:
        // Workload API §5.2.1: the agent no longer issues what it issued before (entry deleted or changed).
        if (this.answered.has(rpc)) {
          return new HelperError('unavailable', `${rpc}: the agent no longer issues an identity to this workload (${details}); its registration entry was deleted or no longer matches`, { reason: 'identity_redacted' });
        }
        return new HelperError('unavailable', `${rpc}: no identity issued to this workload yet (${details}); check the agent's registration entries`);
      case status.INVALID_ARGUMENT:
        return new HelperError('workload-api', `${rpc}: the agent rejected the request as invalid: ${details}`);
      case status.UNIMPLEMENTED:
        return new HelperError('workload-api', `${rpc}: the agent at ${where} does not implement /SpiffeWorkloadAPI/${rpc}: ${details}`);
      default:
        return new HelperError('unavailable', `${rpc}: ${status[err.code] ?? err.code}: ${details}`);
    }
  }
}
