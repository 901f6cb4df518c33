import { HelperError } from '../errors.js';
import { children, decodeOid, parseExtensions, readTlv, splitDerSequence, TooMany, type CertExtensions, type Tlv } from './der.js';

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
  let i = version === 1 && fields[0]?.tag !== 0xa0 ? 0 : 1;
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
  const extensions = fields.slice(i).find((f) => f.tag === 0xa3);
  if (extensions && version !== 3) throw new Error('tbsCertificate: extensions in a certificate that is not version 3');
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
  let parts: Buffer[];
  try {
    parts = splitDerSequence(der, max);
  } catch (e) {
    if (e instanceof TooMany) throw new HelperError(code, `${what}: more than ${e.max} certificates`, { reason: 'too_large' });
    throw new HelperError(code, `${what}: not a sequence of DER certificates (${(e as Error).message})`);
  }
  return parts.map((part, i) => {
    try {
      return parseCertificate(part);
    } catch (e) {
      throw new HelperError(code, `${what}: certificate ${i + 1} cannot be parsed (${(e as Error).message})`);
    }
  });
}

/** An element with its header: tag, length and content. */
function whole(der: Buffer, t: Tlv): Buffer {
  return der.subarray(t.offset, t.next);
}

function readVersion(der: Buffer, wrapper: Tlv): number {
  const v = readTlv(der, wrapper.start, wrapper.end);
  if (v.tag !== TAG.INTEGER || v.next !== wrapper.end || v.end - v.start !== 1 || der[v.start]! > 2) throw new Error('tbsCertificate: version malformed');
  return der[v.start]! + 1;
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
  const [oid, params] = children(der, alg);
  if (oid?.tag !== TAG.OID) throw new Error('subjectPublicKeyInfo: algorithm malformed');
  if (bits.end === bits.start || der[bits.start] !== 0) throw new Error('subjectPublicKeyInfo: the key is not a whole number of bytes');
  return {
    spki: whole(der, spki),
    algorithm: decodeOid(der.subarray(oid.start, oid.end)),
    ...(params?.tag === TAG.OID ? { curve: decodeOid(der.subarray(params.start, params.end)) } : {}),
    key: der.subarray(bits.start + 1, bits.end),
  };
}
