/**
 * The JWS algorithms a JWT-SVID may be signed with (JWT-SVID spec 3: RS, PS and ES with
 * SHA-256/384/512; never `none`, HMAC or anything else), and which keys can check each. Shared
 * by the JWT bundle (a JWK whose own `alg` no JWT-SVID can use is left out) and the token.
 */
import type { KeyObject } from 'node:crypto';
import { quote } from '../quote.js';

export interface AlgSpec {
  family: 'RS' | 'PS' | 'ES';
  hash: 'sha256' | 'sha384' | 'sha512';
  /** ES*: the curve the key must be on (node's name for it, JOSE's name). */
  curve?: [string, string];
  /** ES*: bytes of R and of S in a JWS signature (RFC 7518 3.4). */
  coordinateBytes?: number;
}

const ALGS: Readonly<Record<string, AlgSpec>> = {
  RS256: { family: 'RS', hash: 'sha256' },
  RS384: { family: 'RS', hash: 'sha384' },
  RS512: { family: 'RS', hash: 'sha512' },
  PS256: { family: 'PS', hash: 'sha256' },
  PS384: { family: 'PS', hash: 'sha384' },
  PS512: { family: 'PS', hash: 'sha512' },
  ES256: { family: 'ES', hash: 'sha256', curve: ['prime256v1', 'P-256'], coordinateBytes: 32 },
  ES384: { family: 'ES', hash: 'sha384', curve: ['secp384r1', 'P-384'], coordinateBytes: 48 },
  ES512: { family: 'ES', hash: 'sha512', curve: ['secp521r1', 'P-521'], coordinateBytes: 66 },
};
export const ALG_NAMES = Object.keys(ALGS).join(', ');

/** The spec of a JWT-SVID algorithm name; undefined for any other value ("constructor" included). */
export function algSpec(alg: unknown): AlgSpec | undefined {
  return typeof alg === 'string' && Object.hasOwn(ALGS, alg) ? ALGS[alg] : undefined;
}

/** The size of a coordinate (and of R and S) on a JOSE curve (`P-256`); undefined for other names. */
export function coordinateBytes(crv: unknown): number | undefined {
  return Object.values(ALGS).find((a) => a.curve?.[1] === crv)?.coordinateBytes;
}

/** Why `key` cannot check `alg` (a wrong type would make node:crypto throw or verify something else). */
export function keyMisfit(key: KeyObject, alg: string, spec: AlgSpec, kid: string): string | undefined {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const fits = spec.family === 'ES' ? type === 'ec' && curve === spec.curve![0] : type === 'rsa' || type === 'rsa-pss';
  if (fits) return undefined;
  const has = type === 'ec' ? `an EC ${curve} key` : `a ${type} key`;
  const needs = spec.family === 'ES' ? `an EC ${spec.curve![1]} key` : 'an RSA key';
  return `alg ${alg} needs ${needs}, but key ${quote(kid)} is ${has}`;
}

/**
 * Why no JWT-SVID algorithm can verify with `key` (an Ed25519, X25519 or secp256k1 key, say):
 * such a key is of no use in a bundle, and go-jose refuses a whole JWKS for most of them.
 */
export function unusedKey(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type === 'rsa' || (type === 'ec' && Object.values(ALGS).some((a) => a.curve?.[0] === curve))) return undefined;
  return `${type === 'ec' ? `an EC ${curve}` : `a ${type}`} key, which no JWT-SVID algorithm uses (${ALG_NAMES})`;
}

/** RFC 7518 3.3 and 3.5: "a key of size 2048 bits or larger MUST be used" with RS* and PS*. */
const MIN_RSA_BITS = 2048;
/** OpenSSL's OPENSSL_RSA_MAX_MODULUS_BITS: with a larger key node:crypto finds every signature wrong. */
const MAX_RSA_BITS = 16384;
const MAX_RSA_EXPONENT = 2n ** 31n - 1n;

/** Why an RSA key is not to verify anything: too weak, or too costly (undefined for other keys and good ones). */
export function weakRsaKey(key: KeyObject): string | undefined {
  if (key.asymmetricKeyType !== 'rsa') return undefined;
  const { modulusLength = 0, publicExponent = 0n } = key.asymmetricKeyDetails ?? {};
  if (modulusLength < MIN_RSA_BITS) return `RSA key of ${modulusLength} bits; RS/PS keys must have at least ${MIN_RSA_BITS} (RFC 7518 3.3)`;
  if (modulusLength > MAX_RSA_BITS) return `RSA key of ${modulusLength} bits; OpenSSL verifies with at most ${MAX_RSA_BITS}`;
  // e = 1 makes every "signature" its own message; an even e is no RSA key at all.
  if (publicExponent < 3n || publicExponent % 2n === 0n) return `RSA public exponent ${publicExponent} is not an odd number of at least 3`;
  // A long e makes each verification cost as much as thousands (a 2,047-bit e: ~2 ms); Go's crypto/rsa refuses e over 2^31-1.
  if (publicExponent > MAX_RSA_EXPONENT) return `RSA public exponent of ${publicExponent.toString(2).length} bits; at most 2^31-1 (as Go's crypto/rsa)`;
  return undefined;
}
