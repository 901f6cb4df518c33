import { constants, createHmac, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { parseJwtBundleSet, type JwtBundleSet } from '../../src/spiffe/jwtbundle.js';

/**
 * Tokens and bundles built by hand, so that tests can make every kind of bad JWT-SVID the
 * dev agent (which only signs good ones) never would.
 */
export type Alg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';

export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const curves = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' } as const;
const rsaCache: KeyObject[] = [];
let kids = 0;

/** RSA keys are slow to generate: all RS/PS tests share one pair unless `fresh` is set. */
export function testKey(alg: Alg, o: { kid?: string; fresh?: boolean } = {}): TestKey {
  const kid = o.kid ?? `kid-${++kids}`;
  if (alg.startsWith('ES')) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curves[alg as keyof typeof curves] });
    return { kid, privateKey, publicKey };
  }
  if (o.fresh || rsaCache.length === 0) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    if (rsaCache.length === 0) rsaCache.push(privateKey, publicKey);
    if (o.fresh) return { kid, privateKey, publicKey };
  }
  return { kid, privateKey: rsaCache[0]!, publicKey: rsaCache[1]! };
}

export function jwk(key: TestKey, extra: Record<string, unknown> = { use: 'jwt-svid' }): JsonWebKey {
  return { ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, ...extra };
}

export function jwks(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => jwk(k)) });
}

/** A bundle set: trust domain name → its keys. */
export function bundleSet(domains: Record<string, TestKey[]>): JwtBundleSet {
  return parseJwtBundleSet(Object.fromEntries(Object.entries(domains).map(([td, keys]) => [`spiffe://${td}`, jwks(...keys)])));
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

export interface TokenParts {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
}

/** Signs with `key` per `alg`; header and claims are merged over sane defaults (undefined deletes). */
export function token(alg: Alg | string, key: TestKey, parts: TokenParts = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = clean({ alg, kid: key.kid, typ: 'JWT', ...parts.header });
  const claims = clean({ sub: 'spiffe://example.org/workload', aud: 'api', exp: now + 300, iat: now, ...parts.claims });
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${signature(alg, key, input).toString('base64url')}`;
}

function signature(alg: string, key: TestKey, input: string): Buffer {
  const data = Buffer.from(input);
  const hash = `sha${alg.slice(2)}`;
  if (alg === 'none') return Buffer.alloc(0);
  // The classic confusion attack: HMAC keyed with the public key's bytes.
  if (alg.startsWith('HS'))
    return createHmac(hash, key.publicKey.export({ type: 'spki', format: 'pem' }))
      .update(data)
      .digest();
  if (alg.startsWith('ES')) return sign(hash, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  if (alg.startsWith('PS')) return sign(hash, data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
  if (alg.startsWith('RS')) return sign(hash, data, key.privateKey);
  return sign('sha256', data, key.privateKey);
}

function clean(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
