/**
 * Just enough DER to read certificates (certificate.ts), their extensions (extensions.ts) and
 * PKCS#8 private keys (private-key.ts): elements, OIDs, INTEGERs, and a budget of elements.
 * Every read is bounds-checked: hostile input yields an Error, never an out-of-range read.
 * Read as DER, not BER: what Go's, OpenSSL's or webpki's (rustls) parser refuses is refused here,
 * so that no file the helper writes is one a peer cannot load (test/helpers/der-cases.ts).
 */

export interface Tlv {
  tag: number;
  /** Offset of the tag byte: the element's first byte. */
  offset: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the last content byte. */
  end: number;
  /** Offset just past the whole element (header + content). */
  next: number;
}

export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new Error('truncated DER element header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not supported');
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length encoding');
    if (start + n > limit) throw new Error('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    // DER (X.690 10.1): the shortest form; Go's and OpenSSL's parsers refuse any other.
    if (len < 0x80 || buf[start] === 0) throw new Error('DER length not minimally encoded');
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new Error('truncated DER element');
  return { tag, offset, start, end, next: end };
}

/** Splits concatenated DER SEQUENCEs (certificates) into their own buffers; more than `max` is an error. */
export function splitDerSequence(buf: Uint8Array, max = Infinity): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (out.length === max) throw new TooMany(max);
    const tlv = readTlv(buf, off);
    if (tlv.tag !== 0x30) throw new Error(`expected a DER SEQUENCE at byte ${off}`);
    out.push(Buffer.from(buf.subarray(off, tlv.next)));
    off = tlv.next;
  }
  return out;
}

/**
 * How many elements follow each other in `buf`, reading headers only (~1 µs each); stops at
 * the first malformed one, and past `max`.
 */
export function countDerElements(buf: Uint8Array, max = Infinity): number {
  let n = 0;
  try {
    for (let off = 0; off < buf.length && n <= max; off = readTlv(buf, off).next) n++;
  } catch {
    // the parser that follows says what is malformed
  }
  return n;
}

/** More elements than the caller allows: found before the rest is read. */
export class TooMany extends Error {
  constructor(readonly max: number) {
    super(`more than ${max}`);
  }
}

/** Children of a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let off = parent.start;
  while (off < parent.end) {
    const t = readTlv(buf, off, parent.end);
    if (--elementsLeft < 0) throw new TooManyElements(elementBudget);
    out.push(t);
    off = t.next;
  }
  return out;
}

let elementBudget = Infinity;
let elementsLeft = Infinity;

/**
 * Runs `read` (synchronous) allowing children() to list at most `max` elements in all: the
 * work of parsing a message is bounded whatever its shape. The counts of certificates bound
 * their number, not what one holds: 4 MB of empty SAN names cost 2 s to read.
 */
export function withElementBudget<T>(max: number, read: () => T): T {
  const saved = [elementBudget, elementsLeft];
  [elementBudget, elementsLeft] = [max, max];
  try {
    return read();
  } finally {
    [elementBudget, elementsLeft] = saved as [number, number];
  }
}

/** The budget of withElementBudget is spent: callers that turn errors into verdicts let this one through. */
export class TooManyElements extends Error {
  constructor(readonly max: number) {
    super(`more than ${max} DER elements`);
  }
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new Error('empty OID');
  const parts: number[] = [];
  let v = 0;
  let start = true;
  for (const b of bytes) {
    // Minimal encoding: a subidentifier never starts with 0x80 (Go and OpenSSL refuse it too).
    if (start && b === 0x80) throw new Error('OID subidentifier not minimally encoded');
    v = v * 128 + (b & 0x7f);
    start = !(b & 0x80);
    if (start) {
      parts.push(v);
      v = 0;
    }
  }
  if (!start) throw new Error('OID ends inside a subidentifier');
  const first = parts.shift()!;
  const arc = Math.min(2, Math.floor(first / 40));
  return [arc, first - arc * 40, ...parts].join('.');
}

/**
 * A DER INTEGER's content bytes, checked to be minimal (X.690 8.3.2: no leading 00 before a
 * byte below 0x80, no leading ff before one from 0x80; Go refuses any other) and non-negative.
 */
export function readUnsigned(der: Uint8Array, t: Tlv, what: string): Buffer {
  const bytes = Buffer.from(der.buffer, der.byteOffset + t.start, t.end - t.start);
  if (t.tag !== 0x02 || bytes.length === 0) throw new Error(`${what}: not an INTEGER`);
  if (bytes.length > 1 && ((bytes[0] === 0 && !(bytes[1]! & 0x80)) || (bytes[0] === 0xff && bytes[1]! & 0x80))) throw new Error(`${what}: INTEGER not minimally encoded`);
  if (bytes[0]! & 0x80) throw new Error(`${what}: negative`);
  return bytes;
}

/** The one element `t`'s content holds; anything after it is an error (`what` names the field). */
export function only(der: Uint8Array, t: Tlv, what: string): Tlv {
  const inner = readTlv(der, t.start, t.end);
  if (inner.next !== t.end) throw new Error(`${what}: bytes after its value`);
  return inner;
}
