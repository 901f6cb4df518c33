import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { HelperError } from '../errors.js';
import { TrustDomain } from './id.js';

/**
 * JWT bundles (SPIFFE_Trust_Domain_and_Bundle.md): the public keys a trust domain signs
 * JWT-SVIDs with, by key ID. A `JwtBundle` exists only for a JWKS whose every usable key
 * loaded; what we write out is re-serialised from these keys, never the agent's raw bytes.
 */
export interface JwtBundle {
  readonly trustDomain: TrustDomain;
  /** By `kid`. May be empty: a federated domain need not have JWT authorities. */
  readonly keys: ReadonlyMap<string, KeyObject>;
}

/** Bundles by trust domain name (`example.org`). */
export type JwtBundleSet = ReadonlyMap<string, JwtBundle>;

export interface Jwks {
  keys: JsonWebKey[];
}

/**
 * `use` values of keys that may verify a JWT-SVID. Absent: go-spiffe writes no `use`.
 * `sig`: RFC 7517's generic value, what SPIRE's OIDC discovery provider publishes. Anything
 * else (`x509-svid` CA keys in a SPIFFE bundle, `enc`) must never verify a token: ignored.
 */
const JWT_USES = new Set([undefined, 'jwt-svid', 'sig']);
const KEY_TYPES = new Set(['EC', 'RSA', 'OKP']);

export function parseJwtBundle(trustDomain: TrustDomain, jwks: Uint8Array | string): JwtBundle {
  const what = `jwtbundle: bundle of trust domain "${trustDomain.name}"`;
  const fail = (message: string): HelperError => new HelperError('jwtbundle', `${what}: ${message}`);
  let doc: unknown;
  try {
    doc = JSON.parse(typeof jwks === 'string' ? jwks : Buffer.from(jwks).toString('utf8'));
  } catch (e) {
    throw fail(`is not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc) || !Array.isArray(doc['keys'])) throw fail('is not a JWKS document: it needs a "keys" array');
  const keys = new Map<string, KeyObject>();
  doc['keys'].forEach((jwk: unknown, i) => {
    const at = `key ${i + 1}`;
    if (!isObject(jwk)) throw fail(`${at} is not a JSON object`);
    if (!JWT_USES.has(jwk['use'] as string | undefined)) return;
    const kid = jwk['kid'];
    // Rejected, not skipped (as go-spiffe does): a token names its key by kid, so such a key
    // is an agent bug worth seeing, and the previous good bundle stays in force meanwhile.
    if (typeof kid !== 'string' || kid === '') throw fail(`${at} has no "kid"; a JWT authority must have a key ID`);
    if (keys.has(kid)) throw fail(`key ID ${JSON.stringify(kid)} appears twice`);
    if (!KEY_TYPES.has(jwk['kty'] as string)) throw fail(`key ${JSON.stringify(kid)}: "kty" must be EC, RSA or OKP, got ${JSON.stringify(jwk['kty'])}`);
    if ('d' in jwk) throw fail(`key ${JSON.stringify(kid)} holds private key material; a bundle must hold public keys only`);
    try {
      keys.set(kid, createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
    } catch (e) {
      throw fail(`key ${JSON.stringify(kid)} cannot be loaded: ${(e as Error).message}`);
    }
  });
  return { trustDomain, keys };
}

/**
 * A FetchJWTBundles message (or a bundle file): JWKS documents keyed by trust domain, as
 * `spiffe://example.org` or `example.org`. The message is the complete state: one bad
 * bundle rejects it all, so that the last good set stays in force.
 */
export function parseJwtBundleSet(bundles: Readonly<Record<string, Uint8Array | string>> | ReadonlyMap<string, Uint8Array | string>): JwtBundleSet {
  const entries = bundles instanceof Map ? [...bundles] : Object.entries(bundles);
  if (entries.length === 0) throw new HelperError('jwtbundle', 'jwtbundle: the response holds no bundles, not even our own trust domain\'s');
  const set = new Map<string, JwtBundle>();
  for (const [key, jwks] of entries) {
    let td: TrustDomain;
    try {
      td = TrustDomain.parse(key);
    } catch (e) {
      throw new HelperError('jwtbundle', `jwtbundle: bundle key ${JSON.stringify(key)} is not a trust domain: ${(e as Error).message}`);
    }
    if (set.has(td.name)) throw new HelperError('jwtbundle', `jwtbundle: trust domain "${td.name}" has two bundles`);
    set.set(td.name, parseJwtBundle(td, jwks));
  }
  return set;
}

/**
 * A standard RFC 7517 JWKS of the bundle's keys, sorted by kid for stable output. No `use`
 * member, like go-spiffe's Marshal: generic verifiers (jose) skip keys whose `use` is not `sig`.
 */
export function jwtBundleToJwks(bundle: JwtBundle): Jwks {
  const kids = [...bundle.keys.keys()].sort();
  return { keys: kids.map((kid) => ({ kid, ...bundle.keys.get(kid)!.export({ format: 'jwk' }) })) };
}

/** The set's trust domain names, sorted: the order files and file entries are written in. */
export function sortedTrustDomains(set: JwtBundleSet): string[] {
  return [...set.keys()].sort();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
