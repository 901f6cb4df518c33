import { HelperError } from '../errors.js';
import { children, decodeOid, parseExtensions, readTlv, splitDerSequence, type CertExtensions, type Tlv } from './der.js';

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
  /** Upper-case hex without leading zero bytes, as node:crypto (OpenSSL) prints it. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: SubjectPublicKey;
  readonly extensions: CertExtensions;
}

export interface SubjectPublicKey {
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
  let i = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version, absent for v1
  const take = (tag: number, what: string): Tlv => {
    const f = fields[i++];
    if (f?.tag !== tag) throw new Error(`tbsCertificate: ${what} missing or malformed`);
    return f;
  };
  const serial = take(TAG.INTEGER, 'serialNumber');
  take(TAG.SEQUENCE, 'signature algorithm');
  take(TAG.SEQUENCE, 'issuer');
  const validity = children(der, take(TAG.SEQUENCE, 'validity'));
  take(TAG.SEQUENCE, 'subject');
  const spki = take(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  if (validity.length !== 2) throw new Error('tbsCertificate: validity must hold notBefore and notAfter');
  const extensions = fields.slice(i).find((f) => f.tag === 0xa3);
  return {
    raw: der,
    serial: serialHex(der.subarray(serial.start, serial.end)),
    notBefore: readTime(der, validity[0]!),
    notAfter: readTime(der, validity[1]!),
    publicKey: readPublicKey(der, spki),
    extensions: extensions ? parseExtensions(der, extensions) : { uris: [] },
  };
}

/** Parses concatenated DER certificates; `what` names them in errors. */
export function parseCertificates(der: Uint8Array, what: string, code: 'x509svid' | 'x509bundle'): Certificate[] {
  let parts: Buffer[];
  try {
    parts = splitDerSequence(der);
  } catch (e) {
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
  const m =
    t.tag === TAG.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : t.tag === TAG.GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : null;
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
    algorithm: decodeOid(der.subarray(oid.start, oid.end)),
    ...(params?.tag === TAG.OID ? { curve: decodeOid(der.subarray(params.start, params.end)) } : {}),
    key: der.subarray(bits.start + 1, bits.end),
  };
}
