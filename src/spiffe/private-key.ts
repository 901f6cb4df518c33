import { createECDH, createPrivateKey, X509Certificate, type ECDH } from 'node:crypto';
import type { SubjectPublicKey } from './certificate.js';
import { children, decodeOid, readTlv, type Tlv } from './der.js';

/**
 * Whether an unencrypted PKCS#8 DER private key (RFC 5958) belongs to a certificate's public
 * key; throws an Error when the key cannot be read at all.
 *
 * EC and RSA keys, what SPIRE issues, are checked from the DER: the EC public point is
 * recomputed from the private scalar (as Go's PKCS#8 parser does, so a key whose embedded
 * public point lies is caught) and RSA keys are compared on modulus and exponent (what
 * OpenSSL's X509_check_private_key compares). That takes ~40 µs; node:crypto's
 * createPrivateKey spends ~0.5 ms in OpenSSL 3's decoders on any PKCS#8 input, the second
 * largest cost of a rotation. Any other key, or DER this reader does not take, goes to
 * node:crypto, whose verdict and error messages are then authoritative.
 */
export function privateKeyMatches(keyDer: Buffer, publicKey: SubjectPublicKey, certDer: Buffer): boolean {
  let fast: boolean | undefined;
  try {
    fast = matchFromDer(keyDer, publicKey);
  } catch {
    fast = undefined;
  }
  return fast ?? new X509Certificate(certDer).checkPrivateKey(createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }));
}

const OID_EC = '1.2.840.10045.2.1';
const OID_RSA = '1.2.840.113549.1.1.1';
/** Named curves by OID, as createECDH names them. */
const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'prime256v1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
};

/** Reused: each ECDH holds its curve's precomputed group (~90 µs to build); setPrivateKey replaces the key. */
const ecdhByCurve: Record<string, ECDH> = {};

/** undefined: not a key this reader handles; throws on malformed DER. */
function matchFromDer(der: Buffer, pub: SubjectPublicKey): boolean | undefined {
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.next !== der.length) return undefined;
  const [version, alg, key] = children(der, outer);
  if (version?.tag !== 0x02 || alg?.tag !== 0x30 || key?.tag !== 0x04) return undefined;
  const [oid, params] = children(der, alg);
  if (oid?.tag !== 0x06) return undefined;
  const algorithm = decodeOid(bytes(der, oid));
  const inner = readTlv(der, key.start, key.end);
  if (inner.tag !== 0x30 || inner.next !== key.end) return undefined;
  const fields = children(der, inner);

  if (algorithm === OID_EC && params?.tag === 0x06) {
    const curve = CURVES[decodeOid(bytes(der, params))];
    // ECPrivateKey: version 1, privateKey OCTET STRING, then optional [0] parameters, [1] public key.
    if (!curve || fields[0]?.tag !== 0x02 || fields[1]?.tag !== 0x04) return undefined;
    if (pub.algorithm !== OID_EC || CURVES[pub.curve ?? ''] !== curve) return false;
    const ecdh = (ecdhByCurve[curve] ??= createECDH(curve));
    ecdh.setPrivateKey(bytes(der, fields[1])); // throws unless 0 < d < n
    const format = pub.key[0] === 0x04 ? 'uncompressed' : 'compressed';
    return ecdh.getPublicKey(undefined, format).equals(pub.key);
  }
  if (algorithm === OID_RSA) {
    // RSAPrivateKey: version 0, modulus, publicExponent, then the private values (two primes only).
    if (fields.length !== 9 || fields.some((f) => f.tag !== 0x02) || !bytes(der, fields[0]!).equals(Buffer.of(0))) return undefined;
    if (pub.algorithm !== OID_RSA) return false;
    const rsaPub = readTlv(pub.key, 0);
    const [n, e] = children(pub.key, rsaPub);
    if (!n || !e) return false;
    return bytes(der, fields[1]!).equals(bytes(pub.key, n)) && bytes(der, fields[2]!).equals(bytes(pub.key, e));
  }
  return undefined;
}

function bytes(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}
