import { HelperError } from '../errors.js';
import { children, decodeOid, only, readTlv, readUnsigned, splitDerSequence, TooMany, TooManyElements, type Tlv } from './der.js';
import { parseExtensions, type CertExtensions } from './extensions.js';

/**
 * An X.509 certificate read with our own DER reader (RFC 5280 section 4.1), holding what the
 * helper needs: validity, serial, public key and the extensions that make an X.509-SVID.
 *
 * Not node:crypto's X509Certificate: under OpenSSL 3 its constructor costs ~0.2 ms per
 * certificate (the public key goes through OpenSSL's provider decoders), which was the
 * largest single cost of a rotation (docs/BENCHMARKS.md). Like go-spiffe, which reads
 * certificates with Go's own parser, the structure is checked strictly; signatures are not
 * verified here, neither by go-spiffe's SVID parser.
 */
export interface Certificate {
  /** The DER encoding, exactly as received. */
  readonly raw: Buffer;
  /** 1 or 3 (2 has no use; a v1 certificate has no extensions). */
  readonly version: number;
  /** The DER of the issuer and subject Names: a parent is found by byte equality, as Go's CertPool does. */
  readonly issuer: Buffer;
  readonly subject: Buffer;
  /** What the issuer signed: the tbsCertificate's DER. */
  readonly tbs: Buffer;
  /** The signatureAlgorithm AlgorithmIdentifier's DER (the same as the one inside tbsCertificate). */
  readonly signatureAlgorithm: Buffer;
  readonly signature: Buffer;
  /** Upper-case hex without leading zero bytes, as node:crypto (OpenSSL) prints it. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: SubjectPublicKey;
  readonly extensions: CertExtensions;
}

export interface SubjectPublicKey {
  /** The whole SubjectPublicKeyInfo DER, what node:crypto's createPublicKey reads. */
  readonly spki: Buffer;
  /** The algorithm OID (1.2.840.10045.2.1 for EC, 1.2.840.113549.1.1.1 for RSA, ...). */
  readonly algorithm: string;
  /** The named curve's OID when the parameters are one (EC keys). */
  readonly curve?: string;
  /** The subjectPublicKey BIT STRING's bytes: an EC point, an RSAPublicKey, ... */
  readonly key: Buffer;
}

const TAG = { INTEGER: 0x02, BIT_STRING: 0x03, OID: 0x06, SEQUENCE: 0x30, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18 };

/** Parses one DER certificate; throws an Error saying what is malformed. */
export function parseCertificate(der: Buffer): Certificate {
  const outer = readTlv(der, 0);
  if (outer.tag !== TAG.SEQUENCE || outer.next !== der.length) throw new Error('not a single DER SEQUENCE');
  const top = children(der, outer);
  if (top.length !== 3 || top[0]!.tag !== TAG.SEQUENCE || top[1]!.tag !== TAG.SEQUENCE || top[2]!.tag !== TAG.BIT_STRING) {
    throw new Error('not a certificate (tbsCertificate, signatureAlgorithm, signature)');
  }
  const fields = children(der, top[0]!);
  const version = fields[0]?.tag === 0xa0 ? readVersion(der, fields[0]) : 1; // [0] version, absent for v1
  let i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const take = (tag: number, what: string): Tlv => {
    const f = fields[i++];
    if (f?.tag !== tag) throw new Error(`tbsCertificate: ${what} missing or malformed`);
    return f;
  };
  const serial = take(TAG.INTEGER, 'serialNumber');
  const innerAlgorithm = take(TAG.SEQUENCE, 'signature algorithm');
  const issuer = take(TAG.SEQUENCE, 'issuer');
  const validity = children(der, take(TAG.SEQUENCE, 'validity'));
  const subject = take(TAG.SEQUENCE, 'subject');
  const spki = take(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  if (validity.length !== 2) throw new Error('tbsCertificate: validity must hold notBefore and notAfter');
  checkName(der, issuer, 'issuer');
  checkName(der, subject, 'subject');
  const extensions = readOptionalFields(fields.slice(i), version);
  const [tbs, algorithm, signature] = top as [Tlv, Tlv, Tlv];
  // RFC 5280 4.1.1.2: otherwise which algorithm was signed is ambiguous (Go refuses it too).
  if (!whole(der, innerAlgorithm).equals(whole(der, algorithm))) throw new Error('the signature algorithm inside and outside tbsCertificate differ');
  if (signature.end === signature.start || der[signature.start] !== 0) throw new Error('signature: not a whole number of bytes');
  return {
    raw: der,
    version,
    issuer: whole(der, issuer),
    subject: whole(der, subject),
    tbs: whole(der, tbs),
    signatureAlgorithm: whole(der, algorithm),
    signature: der.subarray(signature.start + 1, signature.end),
    serial: serialHex(der.subarray(serial.start, serial.end)),
    notBefore: readTime(der, validity[0]!),
    notAfter: readTime(der, validity[1]!),
    publicKey: readPublicKey(der, spki),
    extensions: extensions ? parseExtensions(der, extensions) : { uris: [] },
  };
}

/** Parses concatenated DER certificates, at most `max`; `what` names them in errors. */
export function parseCertificates(der: Uint8Array, what: string, code: 'x509svid' | 'x509bundle', max = Infinity): Certificate[] {
  return splitCertificates(der, what, code, max).map((part, i) => {
    try {
      return parseCertificate(part);
    } catch (e) {
      if (e instanceof TooManyElements) throw e;
      throw new HelperError(code, `${what}: ${unparsable(i, e)}`);
    }
  });
}

/** The DER certificates of a concatenation, each unparsed; a concatenation that does not split is an error. */
export function splitCertificates(der: Uint8Array, what: string, code: 'x509svid' | 'x509bundle', max = Infinity): Buffer[] {
  try {
    return splitDerSequence(der, max);
  } catch (e) {
    if (e instanceof TooMany) throw new HelperError(code, `${what}: more than ${e.max} certificates`, { reason: 'too_large' });
    throw new HelperError(code, `${what}: not a sequence of DER certificates (${(e as Error).message})`);
  }
}

/** What is said of the certificate at index `i` that did not parse. */
export function unparsable(i: number, e: unknown): string {
  return `certificate ${i + 1} cannot be parsed (${(e as Error).message})`;
}

/** An element with its header: tag, length and content. */
function whole(der: Buffer, t: Tlv): Buffer {
  return der.subarray(t.offset, t.next);
}

/** [0] EXPLICIT INTEGER: v1(0) (the DEFAULT, written out: read, as Go and OpenSSL do), v2(1) or v3(2). */
function readVersion(der: Buffer, wrapper: Tlv): number {
  const v = only(der, wrapper, 'tbsCertificate: version');
  if (v.tag !== TAG.INTEGER || v.end - v.start !== 1 || der[v.start]! > 2) throw new Error('tbsCertificate: version malformed');
  return der[v.start]! + 1;
}

/**
 * What follows the key (RFC 5280 4.1): issuerUniqueID [1] and subjectUniqueID [2] (v2 and v3),
 * then extensions [3] (v3), each at most once, in that order, and nothing else. Go reads them
 * in that order only: an SVID whose extensions stood elsewhere would have none for a Go peer.
 * Returns the extensions element, when present.
 */
function readOptionalFields(rest: readonly Tlv[], version: number): Tlv | undefined {
  const allowed: readonly [tag: number, name: string, from: number][] = [
    [0x81, 'issuerUniqueID', 2],
    [0x82, 'subjectUniqueID', 2],
    [0xa3, 'extensions', 3],
  ];
  let k = 0;
  for (const f of rest) {
    while (k < allowed.length && allowed[k]![0] !== f.tag) k++;
    const [, name, from] = allowed[k] ?? [f.tag, `an element of tag 0x${f.tag.toString(16)}`, Infinity];
    if (k === allowed.length) throw new Error(`tbsCertificate: ${name} after subjectPublicKeyInfo (only issuerUniqueID, subjectUniqueID, extensions, in that order)`);
    if (version < from) throw new Error(`tbsCertificate: ${name} in a version ${version} certificate`);
    k++;
  }
  return rest.find((f) => f.tag === 0xa3);
}

/** Characters of a PrintableString (X.680 41.4), with `*` and `&`, which Go reads too. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?*&]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A Name (RFC 5280 4.1.2.4): a SEQUENCE of SETs of (OID, value), each value a string valid for
 * its type, as Go's parser demands (it refuses the whole certificate otherwise).
 */
function checkName(der: Buffer, name: Tlv, what: string): void {
  for (const rdn of children(der, name)) {
    if (rdn.tag !== 0x31) throw new Error(`${what}: not a SEQUENCE of SETs`);
    for (const atv of children(der, rdn)) {
      const [type, value, ...more] = atv.tag === 0x30 ? children(der, atv) : [];
      if (type?.tag !== TAG.OID || !value || more.length > 0) throw new Error(`${what}: an attribute is not an OID and a value`);
      decodeOid(der.subarray(type.start, type.end));
      const string = STRINGS.get(value.tag);
      if (!string?.[1](der.subarray(value.start, value.end))) throw new Error(`${what}: an attribute value is not a valid ${string?.[0] ?? `string (tag 0x${value.tag.toString(16)})`}`);
    }
  }
}

/** The string types Go reads in a Name, and what each may hold. */
const STRINGS: ReadonlyMap<number, readonly [name: string, valid: (bytes: Buffer) => boolean]> = new Map([
  [0x0c, ['UTF8String', isUtf8]],
  [0x13, ['PrintableString', (b: Buffer) => PRINTABLE.test(b.toString('latin1'))]],
  [0x16, ['IA5String', (b: Buffer) => b.every((c) => c < 0x80)]],
  [0x12, ['NumericString', (b: Buffer) => /^[0-9 ]*$/.test(b.toString('latin1'))]],
  [0x1e, ['BMPString', bmpValid]],
  [0x14, ['TeletexString', () => true]],
] as const);

/** UCS-2: whole code units, no surrogate and no permanent noncharacter (U+FDD0-FDEF, U+FFFE, U+FFFF), as Go reads it. */
function bmpValid(bytes: Buffer): boolean {
  if (bytes.length % 2 !== 0) return false;
  for (let i = 0; i < bytes.length; i += 2) {
    const unit = bytes.readUInt16BE(i);
    if ((unit >= 0xd800 && unit <= 0xdfff) || (unit >= 0xfdd0 && unit <= 0xfdef) || unit >= 0xfffe) return false;
  }
  return true;
}

function isUtf8(bytes: Buffer): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A DER INTEGER that must be non-negative and minimally encoded (Go refuses negative serials). */
function serialHex(bytes: Buffer): string {
  if (bytes.length === 0) throw new Error('tbsCertificate: empty serialNumber');
  if (bytes[0]! & 0x80) throw new Error('tbsCertificate: negative serialNumber');
  if (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) throw new Error('tbsCertificate: serialNumber not minimally encoded');
  const magnitude = bytes[0] === 0 ? bytes.subarray(1) : bytes;
  return magnitude.length === 0 ? '0' : magnitude.toString('hex').toUpperCase();
}

/** UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`, the only forms RFC 5280 allows. */
function readTime(der: Buffer, t: Tlv): Date {
  const text = der.toString('latin1', t.start, t.end);
  const m = t.tag === TAG.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : t.tag === TAG.GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) throw new Error(`validity: ${JSON.stringify(text)} is not an RFC 5280 time`);
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // UTCTime years 50-99 are 19xx (RFC 5280 4.1.2.5.1).
  const fullYear = t.tag === TAG.UTC_TIME ? (year >= 50 ? 1900 + year : 2000 + year) : year;
  const date = new Date(Date.UTC(fullYear, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new Error(`validity: ${JSON.stringify(text)} is not a valid date`);
  }
  return date;
}

function readPublicKey(der: Buffer, spki: Tlv): SubjectPublicKey {
  const [alg, bits, ...rest] = children(der, spki);
  if (alg?.tag !== TAG.SEQUENCE || bits?.tag !== TAG.BIT_STRING || rest.length > 0) throw new Error('subjectPublicKeyInfo malformed');
  const [oid, params, ...more] = children(der, alg);
  if (oid?.tag !== TAG.OID || more.length > 0) throw new Error('subjectPublicKeyInfo: algorithm malformed');
  if (bits.end === bits.start || der[bits.start] !== 0) throw new Error('subjectPublicKeyInfo: the key is not a whole number of bytes');
  const algorithm = decodeOid(der.subarray(oid.start, oid.end));
  const key = der.subarray(bits.start + 1, bits.end);
  checkKeyEncoding(algorithm, params && whole(der, params), key);
  return {
    spki: whole(der, spki),
    algorithm,
    ...(params?.tag === TAG.OID ? { curve: decodeOid(der.subarray(params.start, params.end)) } : {}),
    key,
  };
}

const NULL = Buffer.from([0x05, 0x00]);

/**
 * The encodings of the keys Go reads, which it refuses otherwise, for any certificate of a
 * bundle file: RSA with NULL parameters (RFC 3279 2.3.1) and an RSAPublicKey of two minimal
 * positive INTEGERs; Ed25519 with no parameters (RFC 8410 3) and 32 bytes. Which algorithms
 * and sizes are acceptable is for algorithms.ts to say.
 */
function checkKeyEncoding(algorithm: string, params: Buffer | undefined, key: Buffer): void {
  if (algorithm === '1.2.840.113549.1.1.1') {
    if (!params?.equals(NULL)) throw new Error('subjectPublicKeyInfo: an RSA key must have NULL parameters');
    const rsa = readTlv(key, 0);
    const ints = rsa.tag === TAG.SEQUENCE && rsa.next === key.length ? children(key, rsa) : [];
    if (ints.length !== 2) throw new Error('subjectPublicKeyInfo: an RSA key is not a SEQUENCE of modulus and exponent');
    for (const [t, name] of [
      [ints[0]!, 'modulus'],
      [ints[1]!, 'exponent'],
    ] as const) {
      if (readUnsigned(key, t, `subjectPublicKeyInfo: RSA ${name}`).every((b) => b === 0)) throw new Error(`subjectPublicKeyInfo: RSA ${name} is zero`);
    }
  } else if (algorithm === '1.3.101.112' && (params || key.length !== 32)) {
    throw new Error('subjectPublicKeyInfo: an Ed25519 key has no parameters and 32 bytes');
  }
}
