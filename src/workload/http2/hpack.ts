import { ErrorCode, Http2Error } from './frame.js';
import { huffmanDecode } from './huffman.js';

/**
 * HPACK (RFC 7541). The decoder is complete (static and dynamic tables, size updates, Huffman)
 * because servers use all of it; the encoder sends every field as a literal without indexing,
 * which every decoder accepts and which keeps no state.
 */

export type HeaderField = [name: string, value: string];

// RFC 7541 Appendix A, entries 1 to 61.
const STATIC: readonly HeaderField[] = (
  ':authority|:method GET|:method POST|:path /|:path /index.html|:scheme http|:scheme https|:status 200|:status 204|' +
  ':status 206|:status 304|:status 400|:status 404|:status 500|accept-charset|accept-encoding gzip, deflate|accept-language|' +
  'accept-ranges|accept|access-control-allow-origin|age|allow|authorization|cache-control|content-disposition|' +
  'content-encoding|content-language|content-length|content-location|content-range|content-type|cookie|date|etag|expect|' +
  'expires|from|host|if-match|if-modified-since|if-none-match|if-range|if-unmodified-since|last-modified|link|location|' +
  'max-forwards|proxy-authenticate|proxy-authorization|range|referer|refresh|retry-after|server|set-cookie|' +
  'strict-transport-security|transfer-encoding|user-agent|vary|via|www-authenticate'
)
  .split('|')
  .map((e) => {
    const space = e.indexOf(' ');
    return space === -1 ? [e, ''] : [e.slice(0, space), e.slice(space + 1)];
  });

/** RFC 7541 4.1: an entry's size is its name and value lengths plus 32. */
const ENTRY_OVERHEAD = 32;

const latin1 = (b: Buffer): string => b.toString('latin1');

export interface DecodeResult {
  headers: HeaderField[];
  /** The sum of the entry sizes of the whole block, also counted past `maxListSize`. */
  listSize: number;
  /** The block decoded to more than `maxListSize`: `headers` holds only those that fit. */
  tooLarge: boolean;
}

export class Decoder {
  /** Newest first. */
  private readonly dynamic: HeaderField[] = [];
  private size = 0;
  private capacity: number;

  /** @param maxTableSize our SETTINGS_HEADER_TABLE_SIZE: the largest table a size update may ask for. */
  constructor(private readonly maxTableSize = 4096) {
    this.capacity = maxTableSize;
  }

  get tableSize(): number {
    return this.size;
  }

  get entries(): readonly HeaderField[] {
    return this.dynamic;
  }

  /**
   * Decodes one whole header block. Fields past `maxListSize` are not kept (a few bytes of
   * indexed references could otherwise expand to megabytes), but the block is still read to
   * its end, because the dynamic table it updates is shared by the whole connection.
   */
  decode(block: Buffer, maxListSize = Number.POSITIVE_INFINITY): DecodeResult {
    const headers: HeaderField[] = [];
    let listSize = 0;
    let pos = 0;
    let fieldsSeen = false;
    const int = (prefixBits: number): number => {
      const r = decodeInt(block, pos, prefixBits);
      pos = r.next;
      return r.value;
    };
    const str = (): string => {
      if (pos >= block.length) throw compression('a string literal is missing');
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = int(7);
      if (length > block.length - pos) throw compression(`a string literal of ${length} bytes runs past the end of the block`);
      const raw = block.subarray(pos, pos + length);
      pos += length;
      if (!huffman) return latin1(raw);
      try {
        return latin1(huffmanDecode(raw));
      } catch (e) {
        throw compression((e as Error).message);
      }
    };
    const emit = (field: HeaderField): void => {
      fieldsSeen = true;
      listSize += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listSize <= maxListSize) headers.push(field);
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        emit(this.field(int(7)));
      } else if (b & 0x40) {
        const index = int(6);
        const name = index === 0 ? str() : this.field(index)[0];
        const field: HeaderField = [name, str()];
        this.insert(field);
        emit(field);
      } else if (b & 0x20) {
        // RFC 7541 4.2: size updates come first in a block, before any field.
        if (fieldsSeen) throw compression('a dynamic table size update after a header field');
        const size = int(5);
        if (size > this.maxTableSize) throw compression(`a dynamic table size update to ${size}, more than the limit of ${this.maxTableSize}`);
        this.capacity = size;
        this.evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001): same layout, table untouched.
        const index = int(4);
        const name = index === 0 ? str() : this.field(index)[0];
        emit([name, str()]);
      }
    }
    return { headers, listSize, tooLarge: listSize > maxListSize };
  }

  private field(index: number): HeaderField {
    if (index === 0) throw compression('index 0');
    if (index <= STATIC.length) return STATIC[index - 1]!;
    const entry = this.dynamic[index - STATIC.length - 1];
    if (!entry) throw compression(`index ${index} is past the end of the tables (${STATIC.length} static, ${this.dynamic.length} dynamic)`);
    return entry;
  }

  private insert(field: HeaderField): void {
    const entrySize = field[0].length + field[1].length + ENTRY_OVERHEAD;
    this.evict(entrySize);
    // RFC 7541 4.4: an entry larger than the table empties it and is not added.
    if (entrySize > this.capacity) return;
    this.dynamic.unshift(field);
    this.size += entrySize;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.size + room > this.capacity && this.dynamic.length > 0) {
      const [name, value] = this.dynamic.pop()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

function compression(why: string): Http2Error {
  return new Http2Error(ErrorCode.COMPRESSION_ERROR, `header block: ${why}`);
}

/**
 * RFC 7541 5.1. Values past 2^31 are refused: no length or index in HTTP/2 comes near it. So
 * are encodings longer than such a value needs (RFC 7541 5.1: "exceed implementation limits
 * in octet length"): zero-valued continuation bytes would otherwise push the shift until
 * 2^shift is Infinity and the value NaN, which passes every comparison (a table size of NaN
 * never evicts).
 */
export function decodeInt(buf: Buffer, start: number, prefixBits: number): { value: number; next: number } {
  const max = (1 << prefixBits) - 1;
  let pos = start;
  let value = buf[pos++]! & max;
  if (value < max) return { value, next: pos };
  for (let shift = 0; ; shift += 7) {
    if (shift > 28) throw compression('an integer encoded in more than 5 continuation bytes');
    if (pos >= buf.length) throw compression('a truncated integer');
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (value > 2 ** 31) throw compression('an integer larger than 2^31');
    if (!(b & 0x80)) return { value, next: pos };
  }
}

export function encodeInt(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}

/** Every field as a literal without indexing with a literal name (RFC 7541 6.2.2), no Huffman. */
export function encode(fields: HeaderField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00, ...encodeInt(n.length, 7, 0)]), n, Buffer.from(encodeInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}
