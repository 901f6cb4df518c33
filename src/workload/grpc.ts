import { connect as netConnect } from 'node:net';
import type { EndpointAddress } from './address.js';
import { type ClientStream, type Headers, Http2Connection, type StreamEnd } from './http2/connection.js';
import { ErrorCode, errorName } from './http2/frame.js';
import type { HeaderField } from './http2/hpack.js';

/**
 * The part of gRPC a Workload API client uses, over our own HTTP/2 client (./http2/, on
 * node:net: node:http2 costs more memory and start-up than the whole helper's code): unary
 * and server-streaming calls on one HTTP/2 connection, length-prefixed messages, the status from the trailers
 * (or from a trailers-only response, the HTTP status, or the RST_STREAM code), deadlines,
 * a receive size limit enforced before anything is buffered, keepalive PINGs, GOAWAY. It knows
 * nothing of protobuf: messages go in and out as bytes. What the Workload API adds (the
 * security header, retries) is the caller's.
 */

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
const STATUS_NAMES = Object.keys(Status);

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

/** How a call ended when it did not end OK. */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  constructor(
    readonly code: number,
    readonly details: string,
    /** What was too large ("a message of … bytes, …"), when that ended the call. */
    readonly tooLarge?: string,
  ) {
    super(`${statusName(code)}: ${details}`);
  }
}

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

const HEADER_BYTES = 5;
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
export class Deframer {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  /** Length of the message being read, or -1 while reading a header. */
  private bodyLength = -1;
  private bodyFill = 0;
  private parts: Buffer[] = [];
  /** The message being read is over the limit: its bytes are dropped. */
  private skipping = false;

  /**
   * @param skipOversized a message over the limit is dropped and stands as `{ oversized: length }`
   * among the messages (see CallOptions.onOversized); otherwise its length prefix throws.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly skipOversized = false,
  ) {}

  /** Inside a message or its prefix: the stream must not end here. */
  get partial(): boolean {
    return this.headerFill > 0 || this.bodyLength >= 0;
  }

  push(chunk: Buffer): (Buffer | { oversized: number })[] {
    const out: (Buffer | { oversized: number })[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.bodyLength < 0) {
        const n = Math.min(HEADER_BYTES - this.headerFill, chunk.length - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        pos += n;
        this.headerFill += n;
        if (this.headerFill < HEADER_BYTES) break;
        this.headerFill = 0;
        this.bodyLength = this.messageLength();
        this.bodyFill = 0;
        this.skipping = this.bodyLength > this.maxBytes;
        if (this.skipping) out.push({ oversized: this.bodyLength });
      }
      const n = Math.min(this.bodyLength - this.bodyFill, chunk.length - pos);
      if (n > 0 && !this.skipping) this.parts.push(chunk.subarray(pos, pos + n));
      pos += n;
      this.bodyFill += n;
      if (this.bodyFill === this.bodyLength) {
        if (!this.skipping) out.push(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bodyLength));
        this.parts = [];
        this.bodyLength = -1;
      }
    }
    return out;
  }

  private messageLength(): number {
    const flag = this.header[0]!;
    if (flag === 1) throw new GrpcError(Status.INTERNAL, 'the agent sent a compressed message; this client asks for none and decompresses none');
    if (flag !== 0) throw new GrpcError(Status.INTERNAL, `invalid message flag ${flag} (0: plain, 1: compressed)`);
    const length = this.header.readUInt32BE(1);
    if (length > this.maxBytes && !this.skipOversized) {
      const what = oversized(length, this.maxBytes);
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `the agent sent ${what}`, what);
    }
    return length;
  }
}

/** A message over the size limit, as errors name it. */
export function oversized(length: number, maxBytes: number): string {
  return `a message of ${length} bytes, more than the limit of ${maxBytes} bytes`;
}

export function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, HEADER_BYTES);
  return out;
}

/** A response that is not gRPC, or a trailers-only error: refused at once. */
function refusedResponse(h: Headers): GrpcError | undefined {
  if (h['grpc-status'] !== undefined) return undefined; // trailers-only: the status is in these headers
  const httpStatus = Number(h[':status']);
  if (httpStatus !== 200) return new GrpcError(codeForHttpStatus(httpStatus), `the agent answered HTTP status ${httpStatus}`);
  const type = h['content-type'] ?? '';
  if (!/^application\/grpc([+;]|$)/.test(type)) return new GrpcError(Status.UNKNOWN, `the agent answered with content-type ${JSON.stringify(type)}, not application/grpc`);
  return undefined;
}

/** Why a status without a message is not OK: the trailers had no grpc-status, or not a code. */
function statusProblem(value: string | undefined): string {
  return value === undefined ? 'the trailers hold no grpc-status' : `grpc-status ${JSON.stringify(value)} is not a status code`;
}

function parseStatus(value: string | undefined): number {
  const code = Number(value);
  return /^\d+$/.test(String(value)) && code <= 16 ? code : Status.UNKNOWN;
}

/** Characters of a grpc-message kept: it ends up in every retry's log line and in /health. */
const MAX_MESSAGE_CHARS = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * grpc-message is percent-encoded UTF-8. HPACK hands its bytes over as latin1: raw UTF-8 (a
 * peer that skipped the encoding) is read as UTF-8, as gRPC-Go shows it; bytes that are not
 * UTF-8 and a malformed escape are shown as received, not dropped. A long one is cut.
 */
function statusMessage(raw: string): string {
  let text = raw;
  try {
    text = utf8.decode(Buffer.from(raw, 'latin1'));
  } catch {}
  try {
    text = decodeURIComponent(text);
  } catch {}
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS)}… (${text.length - MAX_MESSAGE_CHARS} more characters)`;
}

/** The gRPC spec's mapping of HTTP statuses of non-gRPC responses. */
function codeForHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** The gRPC spec's mapping of HTTP/2 error codes in RST_STREAM. */
function codeForRstStream(code: number): number {
  switch (code) {
    case ErrorCode.REFUSED_STREAM:
      return Status.UNAVAILABLE;
    case ErrorCode.CANCEL:
      return Status.CANCELLED;
    case ErrorCode.ENHANCE_YOUR_CALM:
      return Status.RESOURCE_EXHAUSTED;
    case ErrorCode.INADEQUATE_SECURITY:
      return Status.PERMISSION_DENIED;
    default:
      return Status.INTERNAL;
  }
}
