/**
 * Just enough DER to read certificates (certificate.ts), their extensions (key usage bits,
 * basic constraints, SAN URIs) and PKCS#8 private keys (private-key.ts).
 * Every read is bounds-checked: hostile input yields an Error, never an out-of-range read.
 * Read as DER, not BER: what Go's, OpenSSL's or webpki's (rustls) parser refuses is refused here,
 * so that no file the helper writes is one a peer cannot load (test/helpers/der-cases.ts).
 */
import { domainValid, isIpLiteral, mailboxValid, maskValid, uriProblem } from './name-syntax.js';

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
  const exts = only(der, extsWrapper, 'extensions');
  if (exts.tag !== 0x30) throw new Error('extensions: not a SEQUENCE');
  const seen = new Set<string>();
  for (const ext of children(der, exts)) {
    const parts = children(der, ext);
    // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    const value = parts[parts.length - 1];
    if (ext.tag !== 0x30 || parts[0]?.tag !== 0x06 || value?.tag !== 0x04 || (parts.length === 3 ? parts[1]!.tag !== 0x01 : parts.length !== 2)) {
      throw new Error('extension is not an OID, an optional critical flag and an OCTET STRING');
    }
    const oid = decodeOid(der.subarray(parts[0]!.start, parts[0]!.end));
    // RFC 5280 4.2: an extension appears at most once (otherwise which one counts is ambiguous).
    if (seen.has(oid)) throw new Error(`extension ${oid} appears twice`);
    seen.add(oid);
    const critical = parts.length === 3 && readBoolean(der, parts[1]!, `extension ${oid}: critical`);
    if (critical && !HANDLED.has(oid)) (result.unhandledCritical ??= []).push(oid);
    // extnValue holds one DER value (RFC 5280 4.1); bytes after it would be read by some and not others.
    const inner = only(der, value, `extension ${oid}`);
    const shape = SHAPES.get(oid);
    if (shape && !shape(der, inner, critical)) throw new Error(`extension ${oid} is malformed${critical && NON_CRITICAL.has(oid) ? ' (RFC 5280 says it MUST NOT be critical)' : ''}`);
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
      // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }
      const fields = inner.tag === 0x30 ? children(der, inner) : [];
      const ca = fields[0]?.tag === 0x01 ? fields.shift() : undefined;
      const pathLen = fields.shift();
      if (inner.tag !== 0x30 || fields.length > 0) throw new Error('basicConstraints: not a SEQUENCE of cA and pathLenConstraint');
      result.basicConstraintsCA = ca !== undefined && readBoolean(der, ca, 'basicConstraints: cA');
      if (pathLen) {
        const n = readUnsigned(der, pathLen, 'basicConstraints: pathLenConstraint');
        // Beyond any chain's length, a larger value means the same as 2^31-1.
        result.pathLenConstraint = n.length > 4 ? 0x7fffffff : Math.min(n.readUIntBE(0, n.length), 0x7fffffff);
      }
    } else if (oid === OID_SAN) {
      if (inner.tag !== 0x30) throw new Error('subjectAltName: not a SEQUENCE of names');
      for (const name of children(der, inner)) {
        // rfc822Name [1], dNSName [2], uniformResourceIdentifier [6]: IA5String, context-specific primitive.
        const text = (): string => ia5(der, name, 'subjectAltName');
        if (name.tag === 0x86) {
          const uri = text();
          const bad = uriProblem(uri);
          if (bad) throw new Error(`subjectAltName: ${JSON.stringify(uri)} is not a URI (${bad})`);
          result.uris.push(uri);
        }
        if (name.tag === 0x82) (result.dnsNames ??= []).push(text());
        if (name.tag === 0x81) (result.emails ??= []).push(text());
        if (name.tag === 0x87) {
          if (name.end - name.start !== 4 && name.end - name.start !== 16) throw new Error(`subjectAltName: an iPAddress of ${name.end - name.start} octets (4 or 16)`);
          (result.ipAddresses ??= []).push(Buffer.from(der.subarray(name.start, name.end)));
        }
      }
    } else if (oid === OID_NAME_CONSTRAINTS) {
      const { constraints, unsupported } = readNameConstraints(der, inner);
      result.nameConstraints = constraints;
      if (critical && unsupported) (result.unhandledCritical ??= []).push(`${oid} (name constraints of a type not evaluated: ${unsupported})`);
    }
  }
  return result;
}

/**
 * A DER BOOLEAN: one byte, 0x00 or 0xff (X.690 11.1; Go refuses any other byte, BER's "non-zero
 * is true" included). FALSE written out where it is the DEFAULT breaks X.690 11.5 but is read:
 * Go, OpenSSL, webpki and mozilla::pkix all accept it "for compatibility with real-world
 * certificates", so a file holding one works everywhere and refusing it would only stop updates.
 */
function readBoolean(der: Uint8Array, t: Tlv, what: string): boolean {
  const value = der[t.start];
  if (t.end - t.start !== 1 || (value !== 0x00 && value !== 0xff)) throw new Error(`${what}: a BOOLEAN is not DER (one byte, 00 or ff)`);
  return value === 0xff;
}

/** An IA5String's text: 7-bit ASCII (X.680 41; Go refuses other bytes). */
function ia5(der: Uint8Array, t: Tlv, what: string): string {
  for (let i = t.start; i < t.end; i++) if (der[i]! > 0x7f) throw new Error(`${what}: an IA5String holds a non-ASCII byte`);
  return Buffer.from(der.buffer, der.byteOffset + t.start, t.end - t.start).toString('latin1');
}

/**
 * The ASN.1 shape of extensions not read further here: Go's crypto/x509 parses each and
 * refuses a certificate where one is malformed, or critical where RFC 5280 says it MUST NOT be.
 */
type Shape = (der: Uint8Array, value: Tlv, critical: boolean) => boolean;
type Element = (der: Uint8Array, t: Tlv | undefined) => boolean;
/** An OBJECT IDENTIFIER that decodes: minimal and complete, as Go's parser requires. */
const isOid: Element = (der, t) => {
  if (t?.tag !== 0x06) return false;
  try {
    decodeOid(der.subarray(t.start, t.end));
    return true;
  } catch {
    return false;
  }
};
const sequenceOf =
  (element: Element): Element =>
  (der, t) =>
    t?.tag === 0x30 && children(der, t).every((e) => element(der, e));
/** A SEQUENCE that starts with an OID (AccessDescription, PolicyInformation). */
const oidFirst: Element = (der, t) => t?.tag === 0x30 && isOid(der, children(der, t)[0]);
/** PolicyInformation, each policy once (Go refuses a repeated one). */
const policies: Element = (der, t) => {
  if (!sequenceOf(oidFirst)(der, t)) return false;
  const ids = children(der, t!).map((p) => Buffer.from(der.subarray(p.start, children(der, p)[0]!.end)).toString('latin1'));
  return new Set(ids).size === ids.length;
};
const NON_CRITICAL = new Set(['2.5.29.14', '2.5.29.35', '1.3.6.1.5.5.7.1.1']);
const SHAPES: ReadonlyMap<string, Shape> = new Map<string, Shape>([
  ['2.5.29.14', (_, v, critical) => !critical && v.tag === 0x04],
  ['2.5.29.35', (_, v, critical) => !critical && v.tag === 0x30],
  ['1.3.6.1.5.5.7.1.1', (der, v, critical) => !critical && sequenceOf(oidFirst)(der, v)],
  ['2.5.29.37', sequenceOf(isOid)],
  ['2.5.29.32', policies],
  ['2.5.29.31', sequenceOf((_, t) => t?.tag === 0x30)],
  ['2.5.29.33', sequenceOf((der, t) => sequenceOf(isOid)(der, t) && children(der, t!).length === 2)],
  ['2.5.29.36', (_, v) => v.tag === 0x30],
  ['2.5.29.54', (der, v) => readUnsigned(der, v, 'inhibitAnyPolicy').length > 0],
]);

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
  // NameConstraints ::= SEQUENCE { permittedSubtrees [0] OPTIONAL, excludedSubtrees [1] OPTIONAL }, one at least (4.2.1.10).
  const parts = seq.tag === 0x30 ? children(der, seq) : [];
  const tags = parts.map((p) => p.tag).join();
  if (tags !== '160' && tags !== '161' && tags !== '160,161') throw new Error('nameConstraints: not permitted and/or excluded subtrees, in that order');
  for (const subtrees of parts) {
    const into = subtrees.tag === 0xa0 ? constraints.permitted : constraints.excluded;
    for (const subtree of children(der, subtrees)) {
      const base = subtree.tag === 0x30 ? children(der, subtree)[0] : undefined;
      const type = base && SUBTREE_TYPES.get(base.tag);
      if (!base || !type) {
        unsupported = `tag 0x${(base?.tag ?? 0).toString(16)}`;
        continue;
      }
      if (type === 'ip') {
        const bytes = Buffer.from(der.subarray(base.start, base.end));
        if ((bytes.length !== 8 && bytes.length !== 32) || !maskValid(bytes.subarray(bytes.length / 2))) throw new Error('nameConstraints: an iPAddress constraint must be an address and a netmask');
        into.ip.push(bytes);
        continue;
      }
      const text = ia5(der, base, 'nameConstraints');
      const valid = type === 'email' ? (text.includes('@') ? mailboxValid(text) : domainValid(text, true)) : domainValid(text, true) && !(type === 'uri' && isIpLiteral(text));
      if (!valid) throw new Error(`nameConstraints: ${JSON.stringify(text)} is not a valid ${type} constraint`);
      into[type].push(text);
    }
  }
  return { constraints, ...(unsupported ? { unsupported } : {}) };
}
