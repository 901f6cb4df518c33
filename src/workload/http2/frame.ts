import { HelperError } from '../../errors.js';

/**
 * HTTP/2 frames (RFC 9113 section 4 and 6): the 9-byte header, the types and flags a gRPC
 * client meets, and a parser that cuts a byte stream into frames. The parser checks what
 * does not depend on connection state (sizes, stream 0 or not, payload lengths); the
 * connection checks the rest.
 */

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  SETTINGS_TIMEOUT: 4,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  CONNECT_ERROR: 10,
  ENHANCE_YOUR_CALM: 11,
  INADEQUATE_SECURITY: 12,
  HTTP_1_1_REQUIRED: 13,
} as const;
const ERROR_NAMES = Object.keys(ErrorCode);

export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `code ${code}`;
}

export const Setting = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const HEADER_BYTES = 9;
/** The smallest SETTINGS_MAX_FRAME_SIZE there is, and the one we announce: we never accept larger. */
export const DEFAULT_MAX_FRAME = 16384;
export const MAX_WINDOW = 2 ** 31 - 1;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/**
 * A violation of the protocol by the agent: a connection error (stream 0) or a stream error.
 * Becomes a HelperError 'unavailable' (the agent is not usable as is; retrying on a new
 * connection may work) whose reason names the HTTP/2 error code.
 */
export class Http2Error extends HelperError {
  constructor(
    readonly h2code: number,
    message: string,
    /** The stream the error is confined to; 0 for the connection. */
    readonly stream = 0,
  ) {
    super('unavailable', `HTTP/2 ${errorName(h2code)}: ${message}`, { reason: `http2_${errorName(h2code).toLowerCase()}` });
  }
}

/** Fixed payload lengths; a frame of another length is a FRAME_SIZE_ERROR (RFC 9113 6.3-6.9). */
const FIXED_LENGTH: Partial<Record<number, number>> = {
  [FrameType.PRIORITY]: 5,
  [FrameType.RST_STREAM]: 4,
  [FrameType.PING]: 8,
  [FrameType.WINDOW_UPDATE]: 4,
};
/** Frame types that belong to the connection (stream 0) or to a stream. */
const CONNECTION_ONLY = new Set<number>([FrameType.SETTINGS, FrameType.PING, FrameType.GOAWAY]);
const STREAM_ONLY = new Set<number>([FrameType.DATA, FrameType.HEADERS, FrameType.PRIORITY, FrameType.RST_STREAM, FrameType.PUSH_PROMISE, FrameType.CONTINUATION]);

/**
 * Cuts the bytes from the peer into frames. Holds at most one partial frame, whose length was
 * checked against our SETTINGS_MAX_FRAME_SIZE before any of its payload was kept.
 */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameSize = DEFAULT_MAX_FRAME) {}

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    let pos = 0;
    while (this.buf.length - pos >= HEADER_BYTES) {
      const length = this.buf.readUIntBE(pos, 3);
      const type = this.buf[pos + 3]!;
      const flags = this.buf[pos + 4]!;
      const stream = this.buf.readUInt32BE(pos + 5) & 0x7fffffff; // the reserved bit is ignored
      checkHeader(type, length, stream, this.maxFrameSize);
      if (this.buf.length - pos < HEADER_BYTES + length) break;
      // A copy: the frame may outlive this chunk (header blocks, messages) and must not pin it.
      const payload = Buffer.from(this.buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length));
      frames.push({ type, flags, stream, payload });
      pos += HEADER_BYTES + length;
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    return frames;
  }
}

function checkHeader(type: number, length: number, stream: number, maxFrameSize: number): void {
  const name = typeName(type);
  if (length > maxFrameSize) throw new Http2Error(ErrorCode.FRAME_SIZE_ERROR, `${name} frame of ${length} bytes, more than the maximum frame size of ${maxFrameSize}`);
  const fixed = FIXED_LENGTH[type];
  if (fixed !== undefined && length !== fixed) throw new Http2Error(ErrorCode.FRAME_SIZE_ERROR, `${name} frame of ${length} bytes, must be ${fixed}`);
  if (type === FrameType.SETTINGS && length % 6 !== 0) throw new Http2Error(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS frame of ${length} bytes, not a multiple of 6`);
  if (type === FrameType.GOAWAY && length < 8) throw new Http2Error(ErrorCode.FRAME_SIZE_ERROR, `GOAWAY frame of ${length} bytes, fewer than 8`);
  if (CONNECTION_ONLY.has(type) && stream !== 0) throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `${name} frame on stream ${stream}, must be on stream 0`);
  if (STREAM_ONLY.has(type) && stream === 0) throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `${name} frame on stream 0`);
}

export function typeName(type: number): string {
  return Object.keys(FrameType)[type] ?? `type ${type}`;
}

/**
 * The payload of a DATA or HEADERS frame without its padding (and, for HEADERS, without the
 * priority fields, which a client has no use for).
 */
export function unpad(f: Frame): Buffer {
  let start = 0;
  let end = f.payload.length;
  if (f.flags & Flag.PADDED) {
    if (end < 1) throw new Http2Error(ErrorCode.FRAME_SIZE_ERROR, `padded ${typeName(f.type)} frame without a pad length`);
    end -= f.payload[0]!;
    start = 1;
  }
  if (f.type === FrameType.HEADERS && f.flags & Flag.PRIORITY) start += 5;
  if (end < start) throw new Http2Error(ErrorCode.PROTOCOL_ERROR, `${typeName(f.type)} frame padding longer than its payload`);
  return f.payload.subarray(start, end);
}

export function encodeFrame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream, 5);
  payload.copy(out, HEADER_BYTES);
  return out;
}

export function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value);
  return b;
}

export function encodeSettings(settings: [id: number, value: number][]): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, payload);
}
