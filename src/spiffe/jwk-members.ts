/**
 * What a JWK says about its own key must agree with itself (RFC 7517 4.7-4.9, RFC 7518 6):
 * members spelled one way only, a certificate that holds the same key. Node's JWK import checks
 * neither (its base64 decoder skips what is not base64url), and a JWK that contradicts itself is
 * ignored like any key that cannot be used (TB spec 4.2.1).
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { coordinateBytes } from './jws-algorithms.js';

/** The members that hold the key, per kty: unpadded base64url (RFC 7518 2), which Node's decoder does not check. */
const KEY_MEMBERS: Readonly<Record<string, readonly string[]>> = { EC: ['x', 'y'], RSA: ['n', 'e'], OKP: ['x'] };

/** Why a JWK's key members are not what RFC 7518 6 says, so that no reader could take them for another key. */
export function encodingProblem(jwk: Record<string, unknown>): string | undefined {
  for (const member of KEY_MEMBERS[jwk['kty'] as string]!) {
    // Checked once the key loaded: createPublicKey has the words for a member missing or not a point.
    const v = jwk[member];
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]+$/.test(v) || Buffer.from(v, 'base64url').toString('base64url') !== v) return `"${member}" is not unpadded base64url`;
    const size = coordinateBytes(jwk['crv']);
    if (jwk['kty'] === 'EC' && size !== undefined && Buffer.from(v, 'base64url').length !== size) {
      return `"${member}" is not ${size} bytes, the full size of a ${jwk['crv'] as string} coordinate (RFC 7518 6.2.1.2)`;
    }
  }
  return undefined;
}

/**
 * RFC 7517 4.7-4.9: a JWK's certificate (`x5c`, standard base64 DER) "MUST match" its key, and
 * its thumbprints match that certificate. A JWK that contradicts itself is not a key to trust.
 */
export function certificateProblem(jwk: Record<string, unknown>, key: KeyObject): string | undefined {
  if (!('x5c' in jwk)) return undefined;
  const x5c = jwk['x5c'];
  const first = Array.isArray(x5c) && typeof x5c[0] === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(x5c[0]) ? x5c[0] : undefined;
  if (!first) return 'x5c is not a list of base64 certificates';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(first, 'base64'));
  } catch {
    return 'the first x5c entry is not a certificate';
  }
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(cert.publicKey).equals(spki(key))) return 'its x5c certificate holds another public key';
  for (const [member, hash] of [
    ['x5t', 'sha1'],
    ['x5t#S256', 'sha256'],
  ] as const) {
    if (member in jwk && jwk[member] !== createHash(hash).update(cert.raw).digest('base64url')) return `its ${member} is not the thumbprint of its x5c certificate`;
  }
  return undefined;
}
