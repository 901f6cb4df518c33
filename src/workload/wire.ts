/**
 * The protobuf wire format, the part the Workload API messages use: varints, length-delimited
 * fields and doubles, plus skipping of every other wire type so that fields a newer agent adds
 * are ignored. Anything that cannot be a protobuf message is refused with a ProtoError saying
 * where and why, never read past or guessed at.
 */
export class ProtoError extends Error {
  override readonly name = 'ProtoError';
}

export const WireType = { varint: 0, fixed64: 1, len: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;
const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Nested groups of unknown fields: deeper than any real message, shallow enough for the stack. */
const MAX_GROUP_DEPTH = 64;

export interface Tag {
  field: number;
  wireType: number;
  /** Offset of the tag, for error messages. */
  at: number;
}

/** Reads buf[pos, end); nested messages get their own Reader over the same bytes, so offsets stay absolute. */
export class Reader {
  constructor(
    private readonly buf: Buffer,
    private pos = 0,
    private readonly end = buf.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint of up to 64 bits (precise up to 2^53, which lengths and tags never reach). */
  varint(): number {
    const start = this.pos;
    let value = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError(`truncated varint at byte ${start}`);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return value;
    }
    throw new ProtoError(`varint at byte ${start} is longer than 10 bytes`);
  }

  tag(): Tag {
    const at = this.pos;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (field === 0 || field > 0x1fffffff) throw new ProtoError(`invalid field number ${field} at byte ${at}`);
    if (wireType > 5) throw new ProtoError(`invalid wire type ${wireType} for field ${field} at byte ${at}`);
    return { field, wireType, at };
  }

  /** The bytes of a length-delimited field, sharing memory with the message. */
  bytes(): Buffer {
    const start = this.lengthDelimited();
    return this.buf.subarray(start, this.pos);
  }

  /** A length-delimited field read as a message of its own. */
  message(): Reader {
    const start = this.lengthDelimited();
    return new Reader(this.buf, start, this.pos);
  }

  /** Passes over a length prefix and what it announces; returns where the content starts. */
  private lengthDelimited(): number {
    const at = this.pos;
    const len = this.varint();
    const left = this.end - this.pos;
    if (len > left) throw new ProtoError(`length ${len} at byte ${at} runs past the end of the message (${left} bytes left)`);
    this.pos += len;
    return this.pos - len;
  }

  string(): string {
    const at = this.pos;
    const b = this.bytes();
    try {
      return utf8.decode(b);
    } catch {
      throw new ProtoError(`string at byte ${at} is not valid UTF-8`);
    }
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Passes over a field this decoder does not know (a newer agent may send more). */
  skip(tag: Tag, depth = 0): void {
    switch (tag.wireType) {
      case WireType.varint:
        this.varint();
        return;
      case WireType.fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.len:
        this.lengthDelimited();
        return;
      case WireType.fixed32:
        this.need(4);
        this.pos += 4;
        return;
      case WireType.startGroup:
        if (depth >= MAX_GROUP_DEPTH) throw new ProtoError(`groups nested deeper than ${MAX_GROUP_DEPTH} at byte ${tag.at}`);
        for (;;) {
          if (this.done) throw new ProtoError(`group of field ${tag.field} at byte ${tag.at} is not closed`);
          const inner = this.tag();
          if (inner.wireType === WireType.endGroup) {
            if (inner.field !== tag.field) throw new ProtoError(`group of field ${tag.field} closed by field ${inner.field} at byte ${inner.at}`);
            return;
          }
          this.skip(inner, depth + 1);
        }
      default:
        throw new ProtoError(`unexpected end-group for field ${tag.field} at byte ${tag.at}`);
    }
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw new ProtoError(`truncated fixed-size field at byte ${this.pos}`);
  }
}

/** Refuses a known field sent with another wire type than its declared one. */
export function expectWire(tag: Tag, want: number, where: string): void {
  if (tag.wireType !== want) {
    throw new ProtoError(`${where} (field ${tag.field}) at byte ${tag.at} has wire type ${WIRE_NAMES[tag.wireType]}, expected ${WIRE_NAMES[want]}`);
  }
}

/** Builds a message; fields holding their proto3 default are left out, as every encoder does. */
export class Writer {
  private readonly parts: Buffer[] = [];

  varintField(field: number, value: number, keepZero = false): this {
    if (value !== 0 || keepZero) this.parts.push(varint(field * 8 + WireType.varint), varint(value));
    return this;
  }

  bytesField(field: number, value: Uint8Array | undefined, keepEmpty = false): this {
    if (value && (value.length > 0 || keepEmpty)) this.parts.push(varint(field * 8 + WireType.len), varint(value.length), Buffer.from(value.buffer, value.byteOffset, value.length));
    return this;
  }

  stringField(field: number, value: string | undefined, keepEmpty = false): this {
    return this.bytesField(field, value === undefined ? undefined : Buffer.from(value, 'utf8'), keepEmpty);
  }

  doubleField(field: number, value: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(value);
    this.parts.push(varint(field * 8 + WireType.fixed64), b);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}
