/**
 * A certificate's extensions as RFC 5280 defines them and Go's parser reads them: key usage,
 * basic constraints, SANs and name constraints read for validation (chain.ts); the others
 * checked for shape only; a critical one nobody here understands reported, so that the
 * certificate is refused.
 */
import { children, decodeOid, only, readUnsigned, type Tlv } from './der.js';
import { domainValid, isIpLiteral, mailboxValid, maskValid, uriProblem } from './name-syntax.js';

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
