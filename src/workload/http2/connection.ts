import type { Socket } from 'node:net';
import { DEFAULT_WINDOW, FlowControl, type Windows } from './flow-control.js';
import {
  DEFAULT_MAX_FRAME,
  encodeFrame,
  encodeSettings,
  ErrorCode,
  errorName,
  Flag,
  type Frame,
  FrameParser,
  FrameType,
  Http2Error,
  MAX_WINDOW,
  PREFACE,
  Setting,
  typeName,
  u32,
  unpad,
} from './frame.js';
import { type Headers, responseFields } from './fields.js';
import { Decoder, encode, type HeaderField } from './hpack.js';
import { Liveness, type LivenessOptions } from './liveness.js';

/**
 * The client side of HTTP/2 over an already connected socket (h2c with prior knowledge), the
 * subset gRPC uses: requests with a body, responses with headers, data and trailers, flow
 * control both ways, PING (answered, and our keepalive), GOAWAY, RST_STREAM, informational
 * (1xx) responses skipped. Whatever the
 * peer sends is bounded: frames by our maximum frame size, header blocks and header lists by
 * `maxHeaderListSize`, the HPACK table by its 4096 bytes, data by the windows we grant.
 */

export type { Headers } from './fields.js';

export interface StreamEvents {
  /** The response headers, then the trailers; `endStream` on the last block. */
  onHeaders(headers: Headers, endStream: boolean): void;
  /** Body bytes, in order; the window they used is granted back once this returns. */
  onData(chunk: Buffer): void;
  onClose(end: StreamEnd): void;
}

export interface StreamEnd {
  /** The RST_STREAM code the peer ended the stream with. */
  rstCode?: number;
  /** Why the stream ended without a complete response: a protocol error, the connection's end. */
  error?: string;
  /** Whether the error is the connection's (it took every stream) rather than this stream's. */
  connectionError?: boolean;
  /**
   * The peer never processed this stream (its GOAWAY said so, or it reset the stream with
   * REFUSED_STREAM before answering, RFC 9113 8.7): it may be retried elsewhere.
   */
  refused?: 'goaway' | 'stream';
}

export interface ConnectionOptions extends LivenessOptions {
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE; also the cap on one header block's encoded bytes. */
  maxHeaderListSize?: number;
  /** The window we grant each stream and the connection. */
  receiveWindow?: number;
  /** Each time the last open stream ends. */
  onIdle?: () => void;
}

export interface ClientStream {
  readonly id: number;
  /** Ends the stream from our side with RST_STREAM (CANCEL unless told); no event follows. */
  cancel(code?: number): void;
}

interface StreamState extends Windows {
  events: StreamEvents;
  /** The request body not yet sent (flow control). */
  pending: Buffer;
  localEnded: boolean;
  remoteEnded: boolean;
  /** Header blocks received: the response headers, then the trailers. */
  blocks: number;
}

interface HeaderBlock {
  stream: number;
  endStream: boolean;
  fragments: Buffer[];
  bytes: number;
  continuations: number;
}

/**
 * CONTINUATION frames in one header block. A block within our header list limit fits in 4
 * frames of the smallest size; nghttp2 allows 8 CONTINUATIONs. Ours leaves room for peers that cut blocks small.
 */
const MAX_CONTINUATIONS = 64;
/** Bytes we let wait in the socket's send buffer before treating the peer as a flooder. */
const MAX_UNSENT = 1024 * 1024;

export class Http2Connection {
  private readonly streams = new Map<number, StreamState>();
  private readonly parser = new FrameParser(DEFAULT_MAX_FRAME);
  private readonly decoder = new Decoder();
  private readonly maxHeaderListSize: number;
  private readonly flow: FlowControl;
  private nextStreamId = 1;
  private block: HeaderBlock | undefined;
  // What the peer allows us (its SETTINGS), defaults until they arrive.
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private readonly liveness: Liveness;
  private goawayLastStream: number | undefined;
  private closedReason: string | undefined;
  private closed = false;
  /** The agent's first bytes, until they show the SETTINGS frame its preface must start with. */
  private preface: Buffer | undefined = Buffer.alloc(0);

  /** @param onClose once, when the connection is gone; `reason` unless we closed it ourselves. */
  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
    private readonly onClose: (reason: string | undefined) => void = () => undefined,
  ) {
    this.maxHeaderListSize = options.maxHeaderListSize ?? 64 * 1024;
    const receiveWindow = options.receiveWindow ?? 1024 * 1024;
    this.flow = new FlowControl(receiveWindow, (id, increment) => socket.write(encodeFrame(FrameType.WINDOW_UPDATE, 0, id, u32(increment))));
    this.liveness = new Liveness(
      options,
      () => socket.write(encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8))),
      (reason) => this.destroy(reason),
    );
    socket.setNoDelay(true);
    // Only open streams keep the process alive (an idle connection to the agent does not).
    socket.unref();
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (e) => this.destroy(e.message));
    socket.on('end', () => this.destroy('the agent closed the connection'));
    socket.on('close', () => this.destroy('the connection closed'));
    socket.write(
      Buffer.concat([
        PREFACE,
        encodeSettings([
          [Setting.ENABLE_PUSH, 0],
          [Setting.INITIAL_WINDOW_SIZE, receiveWindow],
          [Setting.MAX_HEADER_LIST_SIZE, this.maxHeaderListSize],
        ]),
        encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(receiveWindow - DEFAULT_WINDOW)),
      ]),
    );
  }

  /** Open, not told by a GOAWAY to stop starting streams, and with stream identifiers left. */
  get usable(): boolean {
    return !this.closed && this.goawayLastStream === undefined && this.nextStreamId <= MAX_WINDOW;
  }

  /** Usable, and below the peer's SETTINGS_MAX_CONCURRENT_STREAMS: a request may start here. */
  get hasRoom(): boolean {
    return this.usable && this.streams.size < this.peerMaxStreams;
  }

  /** Why the connection ended or is ending (GOAWAY, an error), when not by our own close. */
  get reason(): string | undefined {
    return this.closedReason;
  }

  /** Starts a request: HEADERS (and CONTINUATION), then `body` as DATA ending the stream. */
  request(fields: HeaderField[], body: Buffer, events: StreamEvents): ClientStream {
    if (!this.usable) throw new Error(this.closedReason ?? 'the connection is closed');
    if (this.streams.size >= this.peerMaxStreams) throw new Error(`the agent allows no more than ${this.peerMaxStreams} concurrent streams`);
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s: StreamState = {
      ...this.flow.open(id),
      events,
      pending: body,
      localEnded: false,
      remoteEnded: false,
      blocks: 0,
    };
    if (this.streams.size === 0) this.socket.ref();
    this.streams.set(id, s);
    this.writeHeaders(id, encode(fields));
    this.flush(s);
    this.liveness.streamsOpen();
    return { id, cancel: (code = ErrorCode.CANCEL) => this.reset(s, code) };
  }

  /** Closes the socket; open streams end with `reason` (or "the connection closed"). */
  destroy(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closedReason ??= reason;
    this.liveness.stop();
    this.socket.destroy();
    const end: StreamEnd = { error: this.closedReason ?? 'the connection closed', connectionError: true };
    for (const s of [...this.streams.values()]) this.finish(s, end);
    this.onClose(this.closedReason);
  }

  private writeHeaders(id: number, block: Buffer): void {
    const frames: Buffer[] = [];
    for (let pos = 0; pos === 0 || pos < block.length; pos += this.peerMaxFrame) {
      const last = pos + this.peerMaxFrame >= block.length;
      frames.push(encodeFrame(pos === 0 ? FrameType.HEADERS : FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, id, block.subarray(pos, pos + this.peerMaxFrame)));
    }
    this.socket.write(Buffer.concat(frames));
  }

  /** Sends what the windows allow of the stream's pending body, END_STREAM with its last byte. */
  private flush(s: StreamState): void {
    if (s.localEnded || this.closed) return;
    while (s.pending.length > 0) {
      const n = this.flow.take(s, Math.min(s.pending.length, this.peerMaxFrame));
      if (n <= 0) return;
      const chunk = s.pending.subarray(0, n);
      s.pending = s.pending.subarray(n);
      s.localEnded = s.pending.length === 0;
      this.socket.write(encodeFrame(FrameType.DATA, s.localEnded ? Flag.END_STREAM : 0, s.id, chunk));
    }
    if (!s.localEnded) {
      s.localEnded = true;
      this.socket.write(encodeFrame(FrameType.DATA, Flag.END_STREAM, s.id));
    }
  }

  private reset(s: StreamState, code: number): void {
    if (!this.streams.has(s.id)) return;
    this.streams.delete(s.id);
    if (!this.closed) this.socket.write(encodeFrame(FrameType.RST_STREAM, 0, s.id, u32(code)));
    this.afterStreamEnd();
  }

  private finish(s: StreamState, end: StreamEnd): void {
    if (!this.streams.delete(s.id)) return;
    this.afterStreamEnd();
    s.events.onClose(end);
  }

  private afterStreamEnd(): void {
    if (this.streams.size > 0) return;
    this.socket.unref();
    this.liveness.streamsClosed();
    // After a graceful GOAWAY the connection ends with its last stream.
    if (this.goawayLastStream !== undefined) return this.destroy();
    this.options.onIdle?.();
  }

  private receive(chunk: Buffer): void {
    try {
      if (this.preface) this.checkPreface(chunk);
      for (const f of this.parser.push(chunk)) {
        if (this.closed) return;
        this.handle(f);
      }
    } catch (e) {
      if (!(e instanceof Http2Error)) throw e;
      this.connectionError(e);
    }
  }

  /**
   * RFC 9113 3.4: the server's preface is a SETTINGS frame (not an ACK). Checked on the first 5
   * bytes, before any frame is whole: an HTTP/1 server, a TLS alert or an SSH banner otherwise
   * reads as a frame of megabytes (FRAME_SIZE_ERROR) or as a partial frame waited on for ever.
   */
  private checkPreface(chunk: Buffer): void {
    const head = Buffer.concat([this.preface!, chunk.subarray(0, 64)]);
    if (head.length < 5) return void (this.preface = head);
    this.preface = undefined;
    if (head[3] === FrameType.SETTINGS && !(head[4]! & Flag.ACK)) return;
    const first = head.subarray(0, 24);
    throw new Http2Error(
      ErrorCode.PROTOCOL_ERROR,
      `the agent does not speak HTTP/2: its first bytes, ${first.toString('hex').replace(/(..)(?!$)/g, '$1 ')} ("${printable(first)}"), are not the SETTINGS frame an HTTP/2 server starts with`,
    );
  }

  private connectionError(e: Http2Error): void {
    if (this.closed) return;
    const debug = Buffer.from(e.message.slice(0, 200), 'latin1');
    this.socket.write(encodeFrame(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(e.h2code), debug])));
    this.destroy(e.message);
  }

  private handle(f: Frame): void {
    if (this.block && f.type !== FrameType.CONTINUATION) {
      throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `${typeName(f.type)} frame inside the header block of stream ${this.block.stream}, expected CONTINUATION`);
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.onData(f);
      case FrameType.HEADERS:
        return this.onHeaders(f);
      case FrameType.CONTINUATION:
        return this.onContinuation(f);
      case FrameType.RST_STREAM:
        return this.onReset(f);
      case FrameType.SETTINGS:
        return this.onSettings(f);
      case FrameType.PING:
        return this.onPing(f);
      case FrameType.GOAWAY:
        return this.onGoaway(f);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(f);
      case FrameType.PUSH_PROMISE:
        throw new Http2Error(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE received, but push is disabled (SETTINGS_ENABLE_PUSH 0)');
      default:
        // PRIORITY and unknown frame types carry nothing a client needs (RFC 9113 5.5).
        return;
    }
  }

  /**
   * The stream a frame is for; undefined if it is one we opened and have since closed (frames
   * in flight are ignored). A stream we never opened is a protocol error: the server cannot
   * open streams (push is off) and cannot answer requests we have not sent.
   */
  private stream(f: Frame): StreamState | undefined {
    const s = this.streams.get(f.stream);
    if (s) return s;
    if (f.stream % 2 === 0 || f.stream >= this.nextStreamId) {
      throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `${typeName(f.type)} frame on stream ${f.stream}, which this client never opened`);
    }
    return undefined;
  }

  private onData(f: Frame): void {
    const s = this.stream(f);
    const data = unpad(f);
    // Flow control counts the whole payload, padding included, whatever the stream's state.
    // Every byte is consumed as it arrives (the deframer enforces the message size limit), so
    // the windows granted never run out and a peer cannot overrun them.
    const size = f.payload.length;
    this.flow.consumed(this.flow.connection, size);
    if (!s) return;
    if (s.remoteEnded) return this.streamError(s, ErrorCode.STREAM_CLOSED, 'DATA after the end of the stream');
    if (s.blocks === 0) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, 'DATA before the response headers');
    if (data.length > 0) s.events.onData(data);
    if (!this.streams.has(s.id)) return; // the handler ended it
    if (f.flags & Flag.END_STREAM) return this.remoteEnd(s);
    this.flow.consumed(s, size);
  }

  private onHeaders(f: Frame): void {
    this.stream(f);
    this.block = { stream: f.stream, endStream: (f.flags & Flag.END_STREAM) !== 0, fragments: [], bytes: 0, continuations: 0 };
    this.addFragment(unpad(f), f.flags);
  }

  private onContinuation(f: Frame): void {
    if (!this.block || this.block.stream !== f.stream) throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `CONTINUATION frame on stream ${f.stream} without a header block in progress`);
    // Empty CONTINUATION frames add nothing to the block's size: without a count, a peer
    // sending them without end holds the stream (and grows `fragments`) forever.
    if (++this.block.continuations > MAX_CONTINUATIONS) {
      throw new Http2Error(ErrorCode.ENHANCE_YOUR_CALM, `more than ${MAX_CONTINUATIONS} CONTINUATION frames in the header block of stream ${f.stream}`);
    }
    this.addFragment(f.payload, f.flags);
  }

  private addFragment(fragment: Buffer, flags: number): void {
    const b = this.block!;
    b.bytes += fragment.length;
    // The whole block must be read (it updates the shared HPACK table), so its size is capped here.
    if (b.bytes > this.maxHeaderListSize) {
      throw new Http2Error(ErrorCode.ENHANCE_YOUR_CALM, `a header block of more than ${this.maxHeaderListSize} bytes on stream ${b.stream}`);
    }
    b.fragments.push(fragment);
    if (!(flags & Flag.END_HEADERS)) return;
    this.block = undefined;
    const decoded = this.decoder.decode(Buffer.concat(b.fragments, b.bytes), this.maxHeaderListSize);
    const s = this.streams.get(b.stream);
    if (!s) return;
    if (decoded.tooLarge) {
      return this.streamError(s, ErrorCode.PROTOCOL_ERROR, `header fields of ${decoded.listSize} bytes, more than the limit of ${this.maxHeaderListSize}`);
    }
    if (s.remoteEnded) return this.streamError(s, ErrorCode.STREAM_CLOSED, 'HEADERS after the end of the stream');
    const fields = responseFields(decoded.headers, s.blocks > 0);
    if ('malformed' in fields) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, fields.malformed);
    const { headers } = fields;
    const status = headers[':status'];
    // RFC 9113 8.1: 100 Continue, 103 Early Hints... may precede the response and say nothing to
    // gRPC (gRPC-Go skips them too). 101 is not allowed in HTTP/2: it stays an HTTP status refused.
    if (s.blocks === 0 && status !== undefined && /^1\d\d$/.test(status) && status !== '101') {
      if (b.endStream) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, `informational response ${status} with END_STREAM`);
      return;
    }
    s.blocks++;
    if (s.blocks === 1 && headers[':status'] === undefined) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, 'response headers without :status');
    if (s.blocks > 1 && !b.endStream) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, 'trailers without END_STREAM');
    s.events.onHeaders(headers, b.endStream);
    if (b.endStream && this.streams.has(s.id)) this.remoteEnd(s);
  }

  private remoteEnd(s: StreamState): void {
    s.remoteEnded = true;
    // The response is complete: a request body still held back by flow control is abandoned.
    if (s.localEnded) return this.finish(s, {});
    this.reset(s, ErrorCode.CANCEL);
    s.events.onClose({});
  }

  private streamError(s: StreamState, code: number, message: string): void {
    this.reset(s, code);
    s.events.onClose({ error: new Http2Error(code, `stream ${s.id}: ${message}`, s.id).message });
  }

  private onReset(f: Frame): void {
    const s = this.stream(f);
    if (!s) return;
    const rstCode = f.payload.readUInt32BE(0);
    // A stream over the peer's MAX_CONCURRENT_STREAMS (one sent before its SETTINGS arrived) ends so.
    this.finish(s, rstCode === ErrorCode.REFUSED_STREAM && s.blocks === 0 ? { rstCode, refused: 'stream' } : { rstCode });
  }

  private onSettings(f: Frame): void {
    if (f.flags & Flag.ACK) {
      if (f.payload.length !== 0) throw new Http2Error(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS ACK with a payload of ${f.payload.length} bytes`);
      return;
    }
    this.liveness.settingsReceived();
    for (let pos = 0; pos < f.payload.length; pos += 6) {
      const id = f.payload.readUInt16BE(pos);
      const value = f.payload.readUInt32BE(pos + 2);
      switch (id) {
        case Setting.ENABLE_PUSH:
          if (value > 1) throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}, must be 0 or 1`);
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.peerMaxStreams = value;
          break;
        case Setting.INITIAL_WINDOW_SIZE:
          this.flow.setInitialWindow(value, this.streams.values());
          break;
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME || value > 2 ** 24 - 1) throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}, must be between 16384 and 16777215`);
          this.peerMaxFrame = value;
          break;
        default:
          // HEADER_TABLE_SIZE: our encoder never indexes. MAX_HEADER_LIST_SIZE: our headers are small.
          break;
      }
    }
    this.acknowledge(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
    for (const s of [...this.streams.values()]) this.flush(s);
  }

  /**
   * Sends a SETTINGS or PING acknowledgement. The peer decides how many it gets: one that
   * floods us with PINGs and reads nothing back would otherwise grow our send buffer without end.
   */
  private acknowledge(frame: Buffer): void {
    if (this.socket.writableLength > MAX_UNSENT) {
      throw new Http2Error(ErrorCode.ENHANCE_YOUR_CALM, `the agent does not read what it asks for: ${this.socket.writableLength} bytes of acknowledgements unsent`);
    }
    this.socket.write(frame);
  }

  private onPing(f: Frame): void {
    if (!(f.flags & Flag.ACK)) return this.acknowledge(encodeFrame(FrameType.PING, Flag.ACK, 0, f.payload));
    this.liveness.pingAcked();
  }

  private onGoaway(f: Frame): void {
    const last = f.payload.readUInt32BE(0) & 0x7fffffff;
    const code = f.payload.readUInt32BE(4);
    const debug = printable(f.payload.subarray(8));
    this.goawayLastStream = Math.min(last, this.goawayLastStream ?? last);
    this.closedReason ??= `the agent ended the connection (GOAWAY ${errorName(code)}${debug ? `: ${debug}` : ''})`;
    const refused: StreamEnd = { error: this.closedReason, connectionError: true, refused: 'goaway' };
    for (const s of [...this.streams.values()]) if (s.id > this.goawayLastStream) this.finish(s, refused);
    if (code !== ErrorCode.NO_ERROR || this.streams.size === 0) this.destroy();
  }

  private onWindowUpdate(f: Frame): void {
    const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
    if (f.stream === 0) {
      const problem = this.flow.update(this.flow.connection, increment);
      if (problem) throw new Http2Error(problem.code, problem.message);
      for (const s of [...this.streams.values()]) this.flush(s);
      return;
    }
    const s = this.stream(f);
    if (!s) return;
    const problem = this.flow.update(s, increment);
    if (problem) return this.streamError(s, problem.code, problem.message);
    this.flush(s);
  }
}

/** GOAWAY debug data, shown in messages: printable ASCII only, and not much of it. */
function printable(b: Buffer): string {
  return b.toString('latin1', 0, Math.min(b.length, 120)).replace(/[^\x20-\x7e]/g, '?');
}
