/**
 * The part of gRPC a Workload API client uses, over our own HTTP/2 client (./http2/, on
 * node:net: node:http2 costs more memory and start-up than the whole helper's code): unary and
 * server-streaming calls on one HTTP/2 connection, length-prefixed messages read under a size
 * limit before anything is buffered (grpc-frame.ts), the status from the trailers or from a
 * trailers-only response, the HTTP status or the RST_STREAM code (grpc-status.ts), deadlines,
 * keepalive PINGs, GOAWAY. It knows nothing of protobuf: messages go in and out as bytes. What
 * the Workload API adds (the security header, retries) is the caller's.
 */
import { connect as netConnect } from 'node:net';
import type { EndpointAddress } from './address.js';
import { type ClientStream, type Headers, Http2Connection, type StreamEnd } from './http2/connection.js';
import { errorName } from './http2/frame.js';
import type { HeaderField } from './http2/hpack.js';
import { Deframer, frame } from './grpc-frame.js';
import { codeForRstStream, GrpcError, parseStatus, refusedResponse, Status, statusMessage, statusProblem } from './grpc-status.js';

export interface ChannelOptions {
  address: EndpointAddress;
  /** Larger messages are refused with RESOURCE_EXHAUSTED as soon as their length prefix arrives. */
  maxReceiveBytes: number;
  /** PING the agent this often while a call is open; 0: never. */
  keepaliveMs: number;
  /** No PING ack within this: the connection is dead (e.g. a frozen agent); calls end UNAVAILABLE. */
  keepaliveTimeoutMs: number;
  /**
   * No HTTP/2 SETTINGS within this of connecting: the connection is dead, its calls end
   * UNAVAILABLE (default 20 s, as gRPC-Go's wait for the server preface).
   */
  connectTimeoutMs?: number;
}

export interface CallOptions {
  /** Extra request headers (gRPC metadata). */
  metadata: Record<string, string>;
  signal: AbortSignal;
  /** A deadline: sent as grpc-timeout and enforced here with DEADLINE_EXCEEDED. */
  timeoutMs?: number;
  /** Each message, whole, in order. A throw ends the call with INTERNAL and the thrown message. */
  onMessage(message: Buffer): void;
  /**
   * With it, a message over `maxReceiveBytes` is reported here (with its length) in its place
   * and skipped: its bytes are read and dropped, never kept, and the call goes on. Without it,
   * the call ends RESOURCE_EXHAUSTED as soon as the length prefix arrives.
   */
  onOversized?(length: number): void;
}

/**
 * Attempts of one call that the agent refuses with REFUSED_STREAM before answering: each moves
 * to a connection with room. Calls started together on a new connection all go out before the
 * agent's SETTINGS say how many streams it allows; the ones over its limit come back refused.
 */
const MAX_STREAM_REFUSALS = 6;

export class Channel {
  /**
   * Usually one. An agent whose SETTINGS_MAX_CONCURRENT_STREAMS is below the streams the helper
   * keeps open (two watches and JWT fetches) gets more: waiting for a free stream would wait
   * behind watches that never end.
   */
  private readonly conns: Http2Connection[] = [];
  private closed = false;

  constructor(private readonly options: ChannelOptions) {}

  /** One call: resolves when it ends with status OK, rejects with a GrpcError otherwise. */
  call(path: string, request: Buffer, o: CallOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new GrpcError(Status.CANCELLED, 'the client is closed'));
      if (o.signal.aborted) return reject(new GrpcError(Status.CANCELLED, 'cancelled by the client'));
      const fields: HeaderField[] = [
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', path],
        [':authority', this.options.address.kind === 'unix' ? 'localhost' : this.options.address.target],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
        ...(o.timeoutMs === undefined ? [] : [['grpc-timeout', `${Math.max(1, Math.ceil(o.timeoutMs))}m`] as HeaderField]),
        ...Object.entries(o.metadata).map(([k, v]): HeaderField => [k.toLowerCase(), v]),
      ];
      const body = frame(request);
      let attempt: Attempt | undefined;
      let settled = false;
      const settle = (err: GrpcError | undefined): void => {
        if (settled) return;
        settled = true;
        o.signal.removeEventListener('abort', onAbort);
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      };
      const fail = (err: GrpcError): void => {
        attempt?.cancel();
        settle(err);
      };
      const onAbort = (): void => fail(new GrpcError(Status.CANCELLED, 'cancelled by the client'));
      o.signal.addEventListener('abort', onAbort, { once: true });
      const deadline = o.timeoutMs === undefined ? undefined : setTimeout(() => fail(new GrpcError(Status.DEADLINE_EXCEEDED, `no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
      // gRPC's transparent retry of a stream the agent never processed: once after a GOAWAY;
      // after REFUSED_STREAM while other connections may have room.
      let goawayRetried = false;
      let streamRefusals = 0;
      const start = (): void => {
        try {
          attempt = new Attempt(this.connection(), fields, body, new Deframer(this.options.maxReceiveBytes, o.onOversized !== undefined), o, fail, (end) => {
            const retry = end.refused === 'goaway' ? !goawayRetried : end.refused === 'stream' && streamRefusals < MAX_STREAM_REFUSALS;
            if (retry && !end.answered && !settled && !this.closed) {
              if (end.refused === 'goaway') goawayRetried = true;
              else streamRefusals++;
              return start();
            }
            settle(end.error);
          });
        } catch (e) {
          settle(new GrpcError(Status.UNAVAILABLE, `cannot start a call: ${(e as Error).message}`));
        }
      };
      start();
    });
  }

  /** Ends the connection and every call on it; later calls fail with CANCELLED. */
  close(): void {
    this.closed = true;
    for (const c of this.conns.splice(0)) c.destroy();
  }

  /**
   * An open connection with a free stream, or a new one: after GOAWAY or a dropped connection
   * the next call reconnects; when every connection is at the agent's stream limit, another opens.
   */
  private connection(): Http2Connection {
    const free = this.conns.find((c) => c.hasRoom);
    if (free) return free;
    const { address: a, keepaliveMs, keepaliveTimeoutMs, connectTimeoutMs = 20_000 } = this.options;
    const socket = a.kind === 'unix' ? netConnect(a.socketPath) : netConnect({ host: a.host, port: a.port });
    const conn = new Http2Connection(
      socket,
      {
        keepaliveMs,
        keepaliveTimeoutMs,
        connectTimeoutMs,
        // An extra connection opened for the stream limit is closed once idle; one is kept.
        onIdle: () => {
          if (this.conns.some((c) => c !== conn && c.usable)) conn.destroy();
        },
      },
      () => {
        const i = this.conns.indexOf(conn);
        if (i !== -1) this.conns.splice(i, 1);
      },
    );
    this.conns.push(conn);
    return conn;
  }
}

/** One stream of a call: the response it reads, and how it ended. */
class Attempt {
  private readonly stream: ClientStream;
  private headers: Headers | undefined;
  private trailers: Headers | undefined;

  constructor(
    private readonly conn: Http2Connection,
    fields: HeaderField[],
    body: Buffer,
    private readonly deframer: Deframer,
    receiver: Pick<CallOptions, 'onMessage' | 'onOversized'>,
    fail: (err: GrpcError) => void,
    onEnd: (end: { error: GrpcError | undefined; refused: StreamEnd['refused']; answered: boolean }) => void,
  ) {
    this.stream = conn.request(fields, body, {
      onHeaders: (h) => {
        if (this.headers) return void (this.trailers = h);
        this.headers = h;
        const refusal = refusedResponse(h);
        if (refusal) fail(refusal);
      },
      onData: (chunk) => {
        try {
          for (const m of this.deframer.push(chunk)) {
            if (Buffer.isBuffer(m)) receiver.onMessage(m);
            else receiver.onOversized?.(m.oversized);
          }
        } catch (e) {
          fail(e instanceof GrpcError ? e : new GrpcError(Status.INTERNAL, (e as Error).message));
        }
      },
      onClose: (end) => {
        onEnd({ error: this.outcome(end), refused: end.refused, answered: this.headers !== undefined });
      },
    });
  }

  /** Ends the stream with RST_STREAM CANCEL (a failure decided here: the call is settled already). */
  cancel(): void {
    this.stream.cancel();
  }

  private outcome(end: StreamEnd): GrpcError | undefined {
    const { headers, trailers } = this;
    const status = trailers ?? (headers?.['grpc-status'] !== undefined ? headers : undefined);
    if (status) {
      const code = parseStatus(status['grpc-status']);
      if (code !== Status.OK) return new GrpcError(code, statusMessage(status['grpc-message'] ?? '') || statusProblem(status['grpc-status']));
      if (this.deframer.partial) return new GrpcError(Status.INTERNAL, 'the stream ended inside a message');
      return undefined;
    }
    // A connection that failed or ended takes its streams with it: its reason is the one to report.
    const connectionError = end.connectionError ? end.error : this.conn.reason;
    if (connectionError) return new GrpcError(Status.UNAVAILABLE, connectionError);
    // NO_ERROR included: a reset before the trailers leaves the call without a status (INTERNAL, as gRPC-Go).
    if (end.rstCode !== undefined) {
      return new GrpcError(codeForRstStream(end.rstCode), `the agent reset the stream (RST_STREAM ${errorName(end.rstCode)})`);
    }
    if (end.error) return new GrpcError(Status.INTERNAL, end.error);
    if (!headers) return new GrpcError(Status.UNAVAILABLE, 'the connection closed before a response');
    return new GrpcError(Status.INTERNAL, 'the stream ended without a grpc-status');
  }
}

/**
 * Splits the response body into messages: several may share a chunk and one may span many.
 * The length prefix is checked against the limit before a byte of the message is kept.
 */
