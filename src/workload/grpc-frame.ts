/** gRPC's length-prefixed messages (a flag byte, a 4-byte length, the bytes), read under a size limit. */
import { GrpcError, Status } from './grpc-status.js';

const HEADER_BYTES = 5;

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
