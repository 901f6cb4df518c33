import { createECDH, createPrivateKey, X509Certificate, type ECDH } from 'node:crypto';
import type { SubjectPublicKey } from './certificate.js';
import { children, decodeOid, readTlv, type Tlv } from './der.js';

/**
 * Whether an unencrypted PKCS#8 DER private key (RFC 5208) belongs to a certificate's public
 * key; throws an Error saying what is wrong when the key cannot be used at all.
 *
 * EC and RSA keys, what SPIRE issues, are read here, strictly, and checked the way Go's
 * crypto/x509 checks them: the EC public point is recomputed from the private scalar (an
 * embedded public point that disagrees is an error, as it would make OpenSSL-based readers
 * refuse the pair), and an RSA key must have p·q = n besides the certificate's modulus and
 * exponent. That takes ~20 µs; node:crypto's createPrivateKey spends ~0.5 ms in OpenSSL 3's
 * decoders on any PKCS#8 input, which was the largest cost of a rotation. Keys of other
 * algorithms (Ed25519, ...) go to node:crypto, whose verdict is then authoritative.
 */
export function privateKeyMatches(keyDer: Buffer, publicKey: SubjectPublicKey, certDer: Buffer): boolean {
  const info = readPrivateKeyInfo(keyDer);
  const matches =
    info.algorithm === OID_EC
      ? ecMatches(keyDer, info, publicKey)
      : info.algorithm === OID_RSA
        ? rsaMatches(keyDer, info.key, publicKey)
        : new X509Certificate(certDer).checkPrivateKey(createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }));
  // A reader may take the public key a v2 key carries instead of deriving it (as with an EC key's embedded point).
  if (matches && info.publicKey && !info.publicKey.equals(publicKey.key)) throw new Error('the public key inside the PKCS#8 key is not its own');
  return matches;
}

const OID_EC = '1.2.840.10045.2.1';
const OID_RSA = '1.2.840.113549.1.1.1';
/** Named curves by OID, as createECDH names them. */
const CURVES: Record<string, string> = {
  '1.3.132.0.33': 'secp224r1',
  '1.2.840.10045.3.1.7': 'prime256v1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
};
const TAG = { INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, OID: 0x06, NULL: 0x05, SEQUENCE: 0x30 };

interface PrivateKeyInfo {
  algorithm: string;
  /** The AlgorithmIdentifier's parameters, when present. */
  params?: Tlv;
  /** The privateKey OCTET STRING's content: an ECPrivateKey, an RSAPrivateKey, ... */
  key: Tlv;
  /** A v2 key's [1] publicKey, the bytes of its BIT STRING. */
  publicKey?: Buffer;
}

/**
 * PrivateKeyInfo (RFC 5208), or its successor OneAsymmetricKey (RFC 5958): version 0 or 1,
 * AlgorithmIdentifier, privateKey, optional [0] attributes, then (version 1 only) an optional
 * [1] publicKey, in that order.
 */
function readPrivateKeyInfo(der: Buffer): PrivateKeyInfo {
  const outer = readTlv(der, 0);
  if (outer.tag !== TAG.SEQUENCE || outer.next !== der.length) throw new Error('not a single DER SEQUENCE');
  const [version, alg, key, ...rest] = children(der, outer);
  const v2 = version?.tag === TAG.INTEGER && isSmallInt(der, version, 1);
  if (version?.tag !== TAG.INTEGER || !(v2 || isSmallInt(der, version, 0))) throw new Error('PKCS#8 version must be 0 (or 1 with a public key)');
  if (alg?.tag !== TAG.SEQUENCE || key?.tag !== TAG.OCTET_STRING) throw new Error('not a PKCS#8 PrivateKeyInfo');
  if (rest[0]?.tag === 0xa0) rest.shift(); // attributes
  const publicKey = v2 && rest[0]?.tag === 0x81 ? rest.shift() : undefined;
  if (rest.length > 0) throw new Error('unexpected fields after the PKCS#8 private key');
  // RFC 5958 2: version 1 exactly when the public key is present.
  if (v2 && !publicKey) throw new Error('PKCS#8 version must be 0 (or 1 with a public key)');
  if (publicKey && (publicKey.end === publicKey.start || der[publicKey.start] !== 0)) throw new Error('PKCS#8 public key malformed');
  const [oid, params, ...more] = children(der, alg);
  if (oid?.tag !== TAG.OID || more.length > 0) throw new Error('PKCS#8 algorithm identifier malformed');
  const inner = readTlv(der, key.start, key.end);
  if (inner.next !== key.end) throw new Error('trailing bytes after the private key');
  return { algorithm: decodeOid(bytes(der, oid)), ...(params ? { params } : {}), key: inner, ...(publicKey ? { publicKey: der.subarray(publicKey.start + 1, publicKey.end) } : {}) };
}

/** Reused: building an ECDH sets up its curve's group (~90 µs); setPrivateKey replaces the key. */
const ecdhByCurve: Record<string, ECDH> = {};

/** ECPrivateKey (RFC 5915): version 1, privateKey, optional [0] parameters, optional [1] publicKey. */
function ecMatches(der: Buffer, info: PrivateKeyInfo, pub: SubjectPublicKey): boolean {
  if (info.params?.tag !== TAG.OID) throw new Error('EC key without a named curve');
  const curveOid = decodeOid(bytes(der, info.params));
  const curve = CURVES[curveOid];
  if (!curve) throw new Error(`EC curve ${curveOid} is not supported`);
  const inner = info.key;
  if (inner.tag !== TAG.SEQUENCE) throw new Error('ECPrivateKey malformed');
  const [version, scalar, ...optional] = children(der, inner);
  if (version?.tag !== TAG.INTEGER || !isSmallInt(der, version, 1)) throw new Error('ECPrivateKey version must be 1');
  if (scalar?.tag !== TAG.OCTET_STRING) throw new Error('ECPrivateKey without a private key');
  const params = optional.find((t) => t.tag === 0xa0);
  const embedded = optional.find((t) => t.tag === 0xa1);
  if (optional.length !== Number(Boolean(params)) + Number(Boolean(embedded)) || (params && embedded && params.start > embedded.start)) {
    throw new Error('unexpected fields in ECPrivateKey');
  }
  if (params) {
    const oid = readTlv(der, params.start, params.end);
    if (oid.tag !== TAG.OID || oid.next !== params.end || decodeOid(bytes(der, oid)) !== curveOid) throw new Error('ECPrivateKey names another curve');
  }
  const ecdh = (ecdhByCurve[curve] ??= createECDH(curve));
  try {
    ecdh.setPrivateKey(bytes(der, scalar));
  } catch {
    throw new Error('the EC private scalar is not valid for its curve');
  }
  const point = ecdh.getPublicKey();
  if (embedded) {
    const bits = readTlv(der, embedded.start, embedded.end);
    if (bits.tag !== TAG.BIT_STRING || bits.next !== embedded.end || der[bits.start] !== 0) throw new Error('ECPrivateKey public key malformed');
    const stated = der.subarray(bits.start + 1, bits.end);
    const format = stated[0] === 0x04 ? 'uncompressed' : 'compressed';
    if (!ecdh.getPublicKey(undefined, format).equals(stated)) throw new Error('the public key inside the EC private key does not belong to its private scalar');
  }
  if (pub.algorithm !== OID_EC || pub.curve !== curveOid) return false;
  return (pub.key[0] === 0x04 ? point : ecdh.getPublicKey(undefined, 'compressed')).equals(pub.key);
}

/** RSAPrivateKey (RFC 8017): version 0 and the eight two-prime values. */
function rsaMatches(der: Buffer, inner: Tlv, pub: SubjectPublicKey): boolean {
  if (inner.tag !== TAG.SEQUENCE) throw new Error('RSAPrivateKey malformed');
  const fields = children(der, inner);
  if (fields.length !== 9 || fields.some((f) => f.tag !== TAG.INTEGER)) throw new Error('RSAPrivateKey must hold version 0 and eight integers (multi-prime keys are not supported)');
  if (!isSmallInt(der, fields[0]!, 0)) throw new Error('RSAPrivateKey version must be 0');
  const [n, e, d, p, q, dp, dq, qi] = fields.slice(1).map((f) => unsigned(bytes(der, f))) as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  if (p * q !== n) throw new Error('the RSA private key is inconsistent: p·q is not its modulus');
  // Go refuses such a key file outright (crypto/rsa Validate); OpenSSL may still sign with
  // it, so a handshake would fail on one side only.
  if (p < 2n || q < 2n || (d * e) % (p - 1n) !== 1n || (d * e) % (q - 1n) !== 1n) throw new Error('the RSA private key is inconsistent: its private exponent does not invert the public one');
  if (dp !== d % (p - 1n) || dq !== d % (q - 1n) || (qi * q) % p !== 1n) throw new Error('the RSA private key is inconsistent: its CRT values do not match its primes');
  if (pub.algorithm !== OID_RSA) return false;
  const rsaPub = readTlv(pub.key, 0);
  const [pn, pe] = children(pub.key, rsaPub);
  if (pn?.tag !== TAG.INTEGER || pe?.tag !== TAG.INTEGER) return false;
  return unsigned(bytes(pub.key, pn)) === n && unsigned(bytes(pub.key, pe)) === e;
}

function isSmallInt(der: Buffer, t: Tlv, value: number): boolean {
  return t.end - t.start === 1 && der[t.start] === value;
}

/** An INTEGER's content as a non-negative number (RSA values are positive). */
function unsigned(b: Buffer): bigint {
  if (b.length === 0 || b[0]! & 0x80) throw new Error('RSA key values must be positive integers');
  return BigInt(`0x${b.toString('hex')}`);
}

function bytes(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}
