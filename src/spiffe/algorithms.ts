/**
 * The signature schemes and public keys an X.509-SVID path may use: those Go's crypto/x509
 * verifies with, since go-spiffe and Go TLS peers (and the Go spiffe-helper's users) are who
 * reads the files. A chain that verifies here but not there would be written and then fail at
 * the first handshake; one that verifies there is not refused here for its algorithms.
 */
import type { SubjectPublicKey } from './certificate.js';
import { children, decodeOid, readTlv } from './der.js';

type Hash = 'sha256' | 'sha384' | 'sha512';
export type SignatureScheme = { kind: 'rsa' | 'ecdsa'; hash: Hash } | { kind: 'pss'; hash: Hash; saltLength: number } | { kind: 'ed25519' };

const SCHEMES: Readonly<Record<string, SignatureScheme>> = {
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'sha512' },
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'sha512' },
  '1.3.101.112': { kind: 'ed25519' },
};
/** Names of refused algorithms a CA may still use, for a message that says what it is. */
const REFUSED_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa-with-SHA256',
  '1.3.101.113': 'Ed448',
};
const OID_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const HASHES: Readonly<Record<string, Hash>> = { '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };
const HASH_BYTES: Readonly<Record<Hash, number>> = { sha256: 32, sha384: 48, sha512: 64 };
export const KEY_TYPES: Readonly<Record<SignatureScheme['kind'], readonly string[]>> = { rsa: ['rsa'], pss: ['rsa'], ecdsa: ['ec'], ed25519: ['ed25519'] };
const ACCEPTED = 'ECDSA, RSA PKCS#1 v1.5 or RSASSA-PSS with SHA-256/384/512, or Ed25519';

/** The scheme of a signatureAlgorithm AlgorithmIdentifier, or why it is not accepted. */
export function signatureScheme(der: Buffer): SignatureScheme | string {
  const [oid, params] = children(der, readTlv(der, 0));
  if (oid?.tag !== 0x06) throw new Error('no algorithm OID');
  const name = decodeOid(der.subarray(oid.start, oid.end));
  const known = SCHEMES[name];
  // RFC 8410 3 and RFC 5758 3.2: Ed25519's and ECDSA's parameters are absent. Go does not
  // verify Ed25519 with any; webpki (rustls) matches ECDSA's identifier byte for byte.
  if ((known?.kind === 'ed25519' || known?.kind === 'ecdsa') && params)
    return `an ${known.kind === 'ed25519' ? 'Ed25519' : 'ECDSA'} signature algorithm with parameters is not accepted (RFC 8410, RFC 5758: they are absent)`;
  if (known) return known;
  if (name !== OID_PSS) return `signature algorithm ${REFUSED_NAMES[name] ?? name} is not accepted; use ${ACCEPTED}`;
  // RSASSA-PSS-params (RFC 4055): the hash must be explicit (the default is SHA-1), MGF1 with the
  // same hash, and (as Go requires) a salt as long as the hash and the default trailer field.
  const fields = params ? children(der, params) : [];
  const field = (tag: number) => fields.find((f) => f.tag === tag);
  const hashAlg = field(0xa0);
  const mgf = field(0xa1);
  const salt = field(0xa2);
  const trailer = field(0xa3);
  const hash = hashAlg && HASHES[algorithmOid(der, readTlv(der, hashAlg.start, hashAlg.end))];
  if (!hash) return 'RSASSA-PSS with SHA-1 (or an unknown hash) is not accepted';
  const mgfAlg = mgf && readTlv(der, mgf.start, mgf.end);
  const [mgfOid, mgfHash] = mgfAlg ? children(der, mgfAlg) : [];
  if (!mgfOid || decodeOid(der.subarray(mgfOid.start, mgfOid.end)) !== OID_MGF1 || !mgfHash || HASHES[algorithmOid(der, mgfHash)] !== hash) {
    return 'RSASSA-PSS must use MGF1 with the same hash as the signature';
  }
  const saltLength = salt ? smallInteger(der, readTlv(der, salt.start, salt.end)) : 20;
  if (saltLength !== HASH_BYTES[hash]) return `RSASSA-PSS with ${hash} must use a ${HASH_BYTES[hash]}-byte salt, not ${saltLength} (Go verifies no other)`;
  if (trailer && smallInteger(der, readTlv(der, trailer.start, trailer.end)) !== 1) return 'RSASSA-PSS must use trailer field 1';
  return { kind: 'pss', hash, saltLength };
}

const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EC = '1.2.840.10045.2.1';
const OID_ED25519 = '1.3.101.112';
/** Named curves Go's crypto/x509 parses: coordinate size in bytes, field prime p and b of y² = x³ - 3x + b (FIPS 186-4 D.1.2). */
const CURVES: Readonly<Record<string, [name: string, bytes: number, p: bigint, b: bigint]>> = {
  '1.3.132.0.33': ['P-224', 28, 2n ** 224n - 2n ** 96n + 1n, 0xb4050a850c04b3abf54132565044b0b7d7bfd8ba270b39432355ffb4n],
  '1.2.840.10045.3.1.7': ['P-256', 32, 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n, 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn],
  '1.3.132.0.34': ['P-384', 48, 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n, 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn],
  '1.3.132.0.35': ['P-521', 66, 2n ** 521n - 1n, 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n],
};

/** Whether (x, y) is on the curve: Go refuses a certificate whose point is not (~10 µs here, no key object). */
function onCurve(point: Buffer, size: number, p: bigint, b: bigint): boolean {
  const x = BigInt(`0x${point.toString('hex', 1, 1 + size)}`);
  const y = BigInt(`0x${point.toString('hex', 1 + size)}`);
  return x < p && y < p && (y * y - (x * x * x - 3n * x + b)) % p === 0n;
}
const CURVE_NAMES = Object.values(CURVES)
  .map(([name]) => name)
  .join(', ');
const KEY_NAMES: Readonly<Record<string, string>> = { [OID_PSS]: 'an RSASSA-PSS key', '1.3.101.113': 'an Ed448 key', '1.2.840.10040.4.1': 'a DSA key' };
/** Go refuses to verify with smaller RSA keys (crypto/rsa, since Go 1.24). */
const MIN_RSA_BITS = 1024;

/** Why a certificate's public key cannot be part of an SVID's path, or undefined. */
export function publicKeyProblem(key: SubjectPublicKey): string | undefined {
  if (key.algorithm === OID_ED25519) return undefined;
  if (key.algorithm === OID_EC) {
    const curve = key.curve ? CURVES[key.curve] : undefined;
    if (!curve) return `its EC key is on curve ${key.curve ?? '(not a named curve)'}; accepted: ${CURVE_NAMES}`;
    // Go reads uncompressed points only (SEC 1 2.3.3 form 04 || x || y).
    if (key.key[0] !== 0x04 || key.key.length !== 1 + 2 * curve[1]) return `its EC public point is not in uncompressed form`;
    if (!onCurve(key.key, curve[1], curve[2], curve[3])) return `its EC public point is not on ${curve[0]}`;
    return undefined;
  }
  if (key.algorithm !== OID_RSA) return `its key is ${KEY_NAMES[key.algorithm] ?? `of algorithm ${key.algorithm}`}; accepted: RSA, EC (${CURVE_NAMES}) and Ed25519`;
  const [modulus, exponent] = children(key.key, readTlv(key.key, 0));
  if (modulus?.tag !== 0x02 || exponent?.tag !== 0x02) return 'its RSA key is malformed';
  const bits = bitLength(key.key.subarray(modulus.start, modulus.end));
  if (bits < MIN_RSA_BITS) return `its RSA key has ${bits} bits, fewer than ${MIN_RSA_BITS}`;
  const e = BigInt(`0x${key.key.subarray(exponent.start, exponent.end).toString('hex') || '0'}`);
  if (e < 3n || e % 2n === 0n || e >= 2n ** 31n) return `its RSA public exponent ${e} is not an odd number from 3 to 2^31-1`;
  return undefined;
}

/** An unsigned big-endian integer's bit length. */
function bitLength(bytes: Buffer): number {
  const first = bytes.findIndex((b) => b !== 0);
  return first < 0 ? 0 : (bytes.length - first - 1) * 8 + (32 - Math.clz32(bytes[first]!));
}

function smallInteger(der: Buffer, t: { start: number; end: number }): number {
  const length = t.end - t.start;
  return length === 0 ? 0 : length > 6 ? Infinity : Buffer.from(der.subarray(t.start, t.end)).readUIntBE(0, length);
}

function algorithmOid(der: Buffer, alg: { start: number; end: number }): string {
  const oid = readTlv(der, alg.start, alg.end);
  return oid.tag === 0x06 ? decodeOid(der.subarray(oid.start, oid.end)) : '';
}
