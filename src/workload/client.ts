/**
 * The Workload API session: one connection to the agent, the security header on every call,
 * retries with backoff, and gRPC statuses turned into errors a person can act on. Typed by
 * the RPC table of proto.ts; the helper calls it through api.ts, which turns its messages
 * into SPIFFE values, so that RPC names and protobuf types stay in this folder.
 */
import { statSync } from 'node:fs';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { describeError, type ErrorCode, HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../timer.js';
import type { EndpointAddress } from './address.js';
import { oversized } from './grpc-frame.js';
import { GrpcError, Status, statusName } from './grpc-status.js';
import { Channel } from './grpc.js';
import { decode, encode, methodPath, Rpcs, TooManyFields, type RequestOf, type ResponseOf, type RpcName, type Schema, type StreamRpc, type UnaryRpc } from './proto.js';

/** Every Workload API call must carry this header; agents refuse calls without it. */
export const SECURITY_HEADER = 'workload.spiffe.io';
const METADATA = { [SECURITY_HEADER]: 'true' };

/**
 * Why a connection to a unix address was refused when what is there is not a socket at all
 * (connect() says ECONNREFUSED for a directory or a regular file, as for a dead agent's socket).
 */
function notASocket(a: EndpointAddress): string | undefined {
  if (a.kind !== 'unix') return undefined;
  try {
    const st = statSync(a.socketPath);
    if (st.isSocket()) return undefined;
    return `${a.socketPath} is ${st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a socket'}, not the agent's socket`;
  } catch {
    return undefined;
  }
}

/** The error code of an update refused on each RPC: what the refused-updates metric counts. */
const REFUSAL_CODE = {
  FetchX509SVID: 'x509svid',
  FetchX509Bundles: 'x509bundle',
  FetchJWTBundles: 'jwtbundle',
  FetchJWTSVID: 'jwtsvid',
  ValidateJWTSVID: 'jwtsvid',
} as const satisfies Record<RpcName, ErrorCode>;

/** Codes that retrying cannot fix: our request is wrong, or the agent does not speak the API. */
const FATAL = new Set<number>([Status.INVALID_ARGUMENT, Status.UNIMPLEMENTED]);

export interface WorkloadClientOptions {
  address: EndpointAddress;
  log: Logger;
  backoff?: BackoffOptions;
  /** Larger messages are refused with RESOURCE_EXHAUSTED (gRPC's usual 4 MiB is too small for big bundles). */
  maxReceiveBytes?: number;
  /** A unary call that has no answer within this is retried (DEADLINE_EXCEEDED). */
  unaryTimeoutMs?: number;
  /** PING the agent this often while a call is open, and give up on the connection without an ack. */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  /**
   * A stream that answered and then stayed open this long gives the next reconnection a fresh
   * backoff (default 10 s). A message alone does not: an agent, or a proxy, that answers and
   * ends the stream at once would be reconnected to at the initial delay for ever.
   */
  healthyStreamMs?: number;
  /** Called each time a stream is reopened or a call retried, with the reason (for health and metrics). */
  onRetry?: (rpc: RpcName, error: HelperError) => void;
  /** Called when a streamed message is refused (by a throw from `onMessage`). */
  onRefused?: (rpc: RpcName, error: HelperError) => void;
  /** Called for every message and every successful call: the agent answers (again). */
  onAnswer?: (rpc: RpcName) => void;
}

export interface WatchOptions<R extends StreamRpc> {
  rpc: R;
  /** Called for each message, one at a time. A throw is reported; the stream goes on. */
  onMessage(message: ResponseOf<R>): Promise<void> | void;
  /** The stream ended or failed and is retried: why (e.g. reason `identity_redacted`). */
  onInterrupted?(error: HelperError): void;
  signal: AbortSignal;
}

export class WorkloadClient {
  private readonly channel: Channel;
  private readonly unaryTimeoutMs: number;
  private readonly healthyStreamMs: number;
  private readonly maxReceiveBytes: number;
  private readonly log: Logger;
  private readonly address: EndpointAddress;
  private readonly backoffOptions: BackoffOptions | undefined;
  private readonly onRetry: WorkloadClientOptions['onRetry'];
  private readonly onRefused: WorkloadClientOptions['onRefused'];
  private readonly onAnswer: WorkloadClientOptions['onAnswer'];
  /** RPCs the agent has answered: a PERMISSION_DENIED after that is a redaction, not "not yet". */
  private readonly answered = new Set<RpcName>();
  /** The most recent reason a call failed: what a one-shot timeout reports. */
  lastError: HelperError | undefined;
  /** The same by RPC, until the agent answers it again: one RPC's trouble is not another's cause. */
  private readonly failing = new Map<RpcName, HelperError>();

  constructor(options: WorkloadClientOptions) {
    this.address = options.address;
    this.log = options.log;
    this.backoffOptions = options.backoff;
    this.onRetry = options.onRetry;
    this.onRefused = options.onRefused;
    this.onAnswer = options.onAnswer;
    this.unaryTimeoutMs = options.unaryTimeoutMs ?? 30_000;
    this.healthyStreamMs = options.healthyStreamMs ?? 10_000;
    this.maxReceiveBytes = options.maxReceiveBytes ?? 32 * 1024 * 1024;
    this.channel = new Channel({
      address: options.address,
      maxReceiveBytes: this.maxReceiveBytes,
      // Not more often than every 5 min: gRPC-Go servers (SPIRE) answer more frequent PINGs
      // on a quiet stream with GOAWAY too_many_pings.
      keepaliveMs: options.keepaliveMs ?? 5 * 60_000,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? 20_000,
    });
  }

  /**
   * Keeps a server stream open for as long as `signal` is not aborted, reconnecting with
   * capped backoff on stream end and on retryable errors. Resolves when aborted; rejects
   * with a 'workload-api' error on a status that retrying cannot fix.
   */
  async watch<R extends StreamRpc>(options: WatchOptions<R>): Promise<void> {
    const backoff = new Backoff(this.backoffOptions);
    const { signal } = options;
    while (!signal.aborted) {
      let answeredAt: number | undefined;
      const outcome = await this.streamOnce(options, () => void (answeredAt ??= performance.now()));
      if (signal.aborted) return;
      if (answeredAt !== undefined && performance.now() - answeredAt >= this.healthyStreamMs) backoff.reset();
      const err = this.classify(options.rpc, outcome);
      if (FATAL.has(outcome?.code ?? -1)) throw err;
      this.failed(options.rpc, err);
      const delay = backoff.next();
      this.log.warn('workload api stream interrupted; retrying', { rpc: options.rpc, reason: err.message, retry_in_ms: delay });
      this.onRetry?.(options.rpc, err);
      options.onInterrupted?.(err);
      try {
        await sleep(delay, signal);
      } catch {
        return;
      }
    }
  }

  /**
   * A unary call, retried like a stream until it succeeds, the signal aborts, or it fails
   * fatally. An answer over the size limit is not retried here: it is a refused update (reason
   * `too_large`), which the caller handles like an answer that fails validation.
   */
  async unary<R extends UnaryRpc>(rpc: R, request: RequestOf<R>, signal: AbortSignal): Promise<ResponseOf<R>> {
    const backoff = new Backoff(this.backoffOptions);
    for (;;) {
      signal.throwIfAborted();
      try {
        return await this.unaryOnce(rpc, request, signal);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (e instanceof GrpcError && e.tooLarge !== undefined) throw this.tooLarge(rpc, e.tooLarge);
        const err = this.classify(rpc, e as GrpcError);
        if (FATAL.has((e as GrpcError).code)) throw err;
        this.failed(rpc, err);
        const delay = backoff.next();
        this.log.warn('workload api call failed; retrying', { rpc, reason: err.message, retry_in_ms: delay });
        this.onRetry?.(rpc, err);
        await sleep(delay, signal);
      }
    }
  }

  close(): void {
    this.channel.close();
  }

  /** Why `rpc` is failing now, if it is (undefined once the agent answered it again). */
  failure(rpc: RpcName): HelperError | undefined {
    return this.failing.get(rpc);
  }

  private failed(rpc: RpcName, err: HelperError): void {
    this.lastError = err;
    this.failing.set(rpc, err);
  }

  private async unaryOnce<R extends UnaryRpc>(rpc: R, request: RequestOf<R>, signal: AbortSignal): Promise<ResponseOf<R>> {
    const { request: requestType, response } = Rpcs[rpc];
    const answers: ResponseOf<R>[] = [];
    await this.channel.call(methodPath(rpc), encode(requestType as Schema<RequestOf<R>>, request), {
      metadata: METADATA,
      signal,
      timeoutMs: this.unaryTimeoutMs,
      onMessage: (bytes) => {
        if (answers.length > 0) throw new GrpcError(Status.INTERNAL, 'the agent sent more than one response to a unary call');
        try {
          answers.push(decode(response as Schema<ResponseOf<R>>, bytes));
        } catch (e) {
          throw e instanceof TooManyFields ? new GrpcError(Status.RESOURCE_EXHAUSTED, `the agent sent ${e.message}`, e.message) : e;
        }
      },
    });
    if (answers.length === 0) throw new GrpcError(Status.INTERNAL, 'the agent ended the call without a response');
    this.answered.add(rpc);
    this.failing.delete(rpc);
    this.onAnswer?.(rpc);
    return answers[0]!;
  }

  /** One stream's life: resolves with the error that ended it, or undefined for a clean end. `onData`: each answer. */
  private streamOnce<R extends StreamRpc>(options: WatchOptions<R>, onData: () => void): Promise<GrpcError | undefined> {
    const { request, response } = Rpcs[options.rpc];
    // Messages are complete states: while one is being handled only the newest waiting one matters.
    let pending: ResponseOf<R> | undefined;
    let busy: Promise<void> | undefined;
    const refuse = (e: unknown): void => {
      this.lastError = e instanceof HelperError ? e : new HelperError('internal', describeError(e), { cause: e });
      this.log.error('rejected update from the workload api; keeping the last good state', { rpc: options.rpc, reason: this.lastError.reason, error: describeError(e) });
      this.onRefused?.(options.rpc, this.lastError);
    };
    const drain = async (): Promise<void> => {
      while (pending !== undefined) {
        const msg = pending;
        pending = undefined;
        try {
          await options.onMessage(msg);
        } catch (e) {
          refuse(e);
        }
      }
      busy = undefined;
    };
    // Refused like an update that fails validation, and the stream goes on (it was an error
    // that ended the stream: the same state came back after each reconnection, uncounted).
    // Refused at once, not queued: a state waiting to be handled stays the last good one.
    const refuseTooLarge = (what: string): void => {
      onData();
      this.answered.add(options.rpc);
      this.onAnswer?.(options.rpc);
      refuse(this.tooLarge(options.rpc, what));
    };
    const call = this.channel.call(methodPath(options.rpc), encode(request, {}), {
      metadata: METADATA,
      signal: options.signal,
      onMessage: (bytes) => {
        // Decoded here, before it counts as an answer: a malformed message ends the stream (INTERNAL).
        let msg: ResponseOf<R>;
        try {
          msg = decode(response as Schema<ResponseOf<R>>, bytes);
        } catch (e) {
          if (e instanceof TooManyFields) return refuseTooLarge(e.message);
          throw e;
        }
        onData();
        this.answered.add(options.rpc);
        this.failing.delete(options.rpc);
        this.onAnswer?.(options.rpc);
        pending = msg;
        busy ??= drain();
      },
      onOversized: (length) => refuseTooLarge(oversized(length, this.maxReceiveBytes)),
    });
    const ended = call.then(
      () => undefined,
      (e: unknown) => (e instanceof GrpcError ? e : new GrpcError(Status.INTERNAL, describeError(e))),
    );
    return ended.then(async (err) => {
      await busy;
      return err;
    });
  }

  /** `what`: "a message of …" */
  private tooLarge(rpc: RpcName, what: string): HelperError {
    const code = REFUSAL_CODE[rpc];
    return new HelperError(code, `${code}: the agent sent ${what}`, { reason: 'too_large' });
  }

  /** Turns a gRPC status into an error a person can act on. */
  private classify(rpc: RpcName, err: GrpcError | undefined): HelperError {
    const where = this.address.kind === 'unix' ? `socket ${this.address.socketPath}` : this.address.target;
    if (!err) return new HelperError('unavailable', `${rpc}: the agent closed the stream`);
    if (!(err instanceof GrpcError)) return new HelperError('internal', `${rpc}: ${describeError(err)}`, { cause: err });
    const details = err.details;
    switch (err.code) {
      case Status.UNAVAILABLE:
        if (/ENOENT/.test(details)) return new HelperError('unavailable', `${rpc}: no agent at ${where} (socket file not found)`);
        if (/ECONNREFUSED/.test(details)) return new HelperError('unavailable', `${rpc}: ${notASocket(this.address) ?? `no agent is listening at ${where}`}`);
        if (/EACCES/.test(details)) return new HelperError('unavailable', `${rpc}: permission denied opening ${where}`);
        return new HelperError('unavailable', `${rpc}: agent at ${where} unavailable: ${details}`);
      case Status.PERMISSION_DENIED:
        // Workload API §5.2.1: the agent no longer issues what it issued before (entry deleted or changed).
        if (this.answered.has(rpc)) {
          return new HelperError('unavailable', `${rpc}: the agent no longer issues an identity to this workload (${details}); its registration entry was deleted or no longer matches`, {
            reason: 'identity_redacted',
          });
        }
        return new HelperError('unavailable', `${rpc}: no identity issued to this workload yet (${details}); check the agent's registration entries`);
      case Status.INVALID_ARGUMENT:
        return new HelperError('workload-api', `${rpc}: the agent rejected the request as invalid: ${details}`);
      case Status.UNIMPLEMENTED:
        return new HelperError('workload-api', `${rpc}: the agent at ${where} does not implement /SpiffeWorkloadAPI/${rpc}: ${details}`);
      default:
        return new HelperError('unavailable', `${rpc}: ${statusName(err.code)}: ${details}`);
    }
  }
}
