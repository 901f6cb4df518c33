/**
 * Just enough DER to read certificates (certificate.ts), their extensions (key usage bits,
 * basic constraints, SAN URIs) and PKCS#8 private keys (private-key.ts).
 * Every read is bounds-checked: hostile input yields an Error, never an out-of-range read.
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
    out.push(t);
    off = t.next;
  }
  return out;
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

export interface CertExtensions {
  /** Key usage bits, by name, when the extension is present. */
  keyUsage?: { digitalSignature: boolean; keyCertSign: boolean; cRLSign: boolean };
  basicConstraintsCA?: boolean;
  /** basicConstraints pathLenConstraint: how many CAs may follow below this one. */
  pathLenConstraint?: number;
  uris: string[];
  /** dNSName SANs, present when the certificate has any. */
  dnsNames?: string[];
  /** rfc822Name SANs. */
  emails?: string[];
  /** iPAddress SANs: 4 or 16 bytes. */
  ipAddresses?: Buffer[];
  /** RFC 5280 4.2.1.10, the name types Go evaluates; another type in a critical extension makes it unhandled, as in Go. */
  nameConstraints?: NameConstraints;
  /** OIDs of critical extensions nobody here understands: the certificate must then be refused (RFC 5280 4.2). */
  unhandledCritical?: string[];
}

export interface Subtrees {
  uri: string[];
  dns: string[];
  email: string[];
  /** Address then mask: 8 or 32 bytes. */
  ip: Buffer[];
}

export interface NameConstraints {
  permitted: Subtrees;
  excluded: Subtrees;
}

const OID_KEY_USAGE = '2.5.29.15';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_SAN = '2.5.29.17';
const OID_NAME_CONSTRAINTS = '2.5.29.30';
/**
 * Understood: read here, or handled by Go's crypto/x509 in a way that cannot refuse an SVID's
 * path (SKI, AKI, EKU with go-spiffe's any-usage, CRL distribution points, authority info
 * access, and the policy extensions, whose policies are not required by anyone here).
 */
const HANDLED = new Set([
  OID_KEY_USAGE,
  OID_BASIC_CONSTRAINTS,
  OID_SAN,
  OID_NAME_CONSTRAINTS,
  '2.5.29.14',
  '2.5.29.35',
  '2.5.29.37',
  '2.5.29.31',
  '1.3.6.1.5.5.7.1.1',
  '2.5.29.32',
  '2.5.29.33',
  '2.5.29.36',
  '2.5.29.54',
]);

/** Reads a certificate's `[3] EXPLICIT Extensions` element. */
export function parseExtensions(der: Uint8Array, extsWrapper: Tlv): CertExtensions {
  const result: CertExtensions = { uris: [] };
  const exts = children(der, extsWrapper)[0];
  if (!exts) return result;
  const seen = new Set<string>();
  for (const ext of children(der, exts)) {
    const parts = children(der, ext);
    if (parts.length < 2 || parts[0]!.tag !== 0x06) throw new Error('extension without an OID and a value');
    const oid = decodeOid(der.subarray(parts[0]!.start, parts[0]!.end));
    // RFC 5280 4.2: an extension appears at most once (otherwise which one counts is ambiguous).
    if (seen.has(oid)) throw new Error(`extension ${oid} appears twice`);
    seen.add(oid);
    const value = parts[parts.length - 1]!; // OCTET STRING, after the optional critical flag
    const critical = parts.length === 3 && parts[1]!.tag === 0x01 && readBoolean(der, parts[1]!);
    if (critical && !HANDLED.has(oid)) (result.unhandledCritical ??= []).push(oid);
    const inner = readTlv(der, value.start, value.end);
    if (oid === OID_KEY_USAGE) {
      // BIT STRING: first content byte is the unused-bit count; bit 0 is the MSB of byte 1.
      const unused = der[inner.start]!;
      const last = der[inner.end - 1]!;
      // DER (X.690 11.2): at most 7 unused bits, all zero, none in an empty string; Go refuses any other.
      if (inner.tag !== 0x03 || inner.end === inner.start || unused > 7 || (inner.end - inner.start === 1 && unused !== 0) || (last & ((1 << unused) - 1)) !== 0) {
        throw new Error('keyUsage: not a DER BIT STRING');
      }
      const b1 = inner.end > inner.start + 1 ? der[inner.start + 1]! : 0;
      result.keyUsage = {
        digitalSignature: (b1 & 0x80) !== 0,
        keyCertSign: (b1 & 0x04) !== 0,
        cRLSign: (b1 & 0x02) !== 0,
      };
    } else if (oid === OID_BASIC_CONSTRAINTS) {
      const [first, second] = children(der, inner);
      result.basicConstraintsCA = first?.tag === 0x01 && readBoolean(der, first);
      const pathLen = first?.tag === 0x02 ? first : second;
      if (pathLen) {
        const n = pathLen.end - pathLen.start;
        if (pathLen.tag !== 0x02 || n === 0 || n > 4 || der[pathLen.start]! & 0x80) throw new Error('basicConstraints: malformed pathLenConstraint');
        result.pathLenConstraint = Buffer.from(der.subarray(pathLen.start, pathLen.end)).readUIntBE(0, n);
      }
    } else if (oid === OID_SAN) {
      for (const name of children(der, inner)) {
        // uniformResourceIdentifier is [6] IA5String, context-specific primitive.
        const text = (): string => Buffer.from(der.subarray(name.start, name.end)).toString('latin1');
        if (name.tag === 0x86) result.uris.push(text());
        if (name.tag === 0x82) (result.dnsNames ??= []).push(text());
        if (name.tag === 0x81) (result.emails ??= []).push(text());
        if (name.tag === 0x87) (result.ipAddresses ??= []).push(Buffer.from(der.subarray(name.start, name.end)));
      }
    } else if (oid === OID_NAME_CONSTRAINTS) {
      const { constraints, unsupported } = readNameConstraints(der, inner);
      result.nameConstraints = constraints;
      if (critical && unsupported) (result.unhandledCritical ??= []).push(`${oid} (name constraints of a type not evaluated: ${unsupported})`);
    }
  }
  return result;
}

/** A DER BOOLEAN: one byte, 0x00 or 0xff (X.690 11.1; Go refuses any other byte, BER's "non-zero is true" included). */
function readBoolean(der: Uint8Array, t: Tlv): boolean {
  const value = der[t.start];
  if (t.end - t.start !== 1 || (value !== 0x00 && value !== 0xff)) throw new Error('a BOOLEAN is not DER (one byte, 00 or ff)');
  return value === 0xff;
}

/** Subtree base types by tag; directoryName, otherName and the rest are not evaluated (nor by Go). */
const SUBTREE_TYPES: ReadonlyMap<number, keyof Subtrees> = new Map([
  [0x86, 'uri'],
  [0x82, 'dns'],
  [0x81, 'email'],
  [0x87, 'ip'],
]);

function readNameConstraints(der: Uint8Array, seq: Tlv): { constraints: NameConstraints; unsupported?: string } {
  const empty = (): Subtrees => ({ uri: [], dns: [], email: [], ip: [] });
  const constraints: NameConstraints = { permitted: empty(), excluded: empty() };
  let unsupported: string | undefined;
  for (const subtrees of children(der, seq)) {
    const into = subtrees.tag === 0xa0 ? constraints.permitted : subtrees.tag === 0xa1 ? constraints.excluded : undefined;
    if (!into) throw new Error('nameConstraints: malformed');
    for (const subtree of children(der, subtrees)) {
      const base = children(der, subtree)[0];
      const type = base && SUBTREE_TYPES.get(base.tag);
      if (!base || !type) {
        unsupported = `tag 0x${(base?.tag ?? 0).toString(16)}`;
        continue;
      }
      const bytes = Buffer.from(der.subarray(base.start, base.end));
      if (type === 'ip') {
        if (bytes.length !== 8 && bytes.length !== 32) throw new Error('nameConstraints: an iPAddress constraint must be an address and a mask');
        into.ip.push(bytes);
      } else into[type].push(bytes.toString('latin1'));
    }
  }
  return { constraints, ...(unsupported ? { unsupported } : {}) };
}
