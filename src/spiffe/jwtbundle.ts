import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { HelperError } from '../errors.js';
import { isPlainObject } from '../guards.js';
import { quote, quotedIn } from '../quote.js';
import { TrustDomain } from './id.js';
import { ALG_NAMES, algSpec, keyMisfit, unusedKey, weakRsaKey } from './jws-algorithms.js';
import { certificateProblem, encodingProblem } from './jwk-members.js';
import { ambiguities, strictUtf8 } from './strict-json.js';
import { LIMITS } from './limits.js';

/**
 * JWT bundles (SPIFFE_Trust_Domain_and_Bundle.md): the public keys a trust domain signs
 * JWT-SVIDs with, by key ID. A JWK that cannot be used is ignored, never a reason to refuse
 * the bundle (TB spec 4.2.1: a client MUST ignore a JWK it does not understand): the other
 * keys keep working, and `ignored` says what was left out and why, for a log line. What we
 * write out is re-serialised from the loaded keys, never the agent's raw bytes.
 */
export interface JwtBundle {
  readonly trustDomain: TrustDomain;
  /** By `kid`. May be empty: a federated domain need not have JWT authorities. */
  readonly keys: ReadonlyMap<string, KeyObject>;
  /** By `kid`, for keys whose JWK names its `alg`: they verify tokens of that alg only. */
  readonly algs: ReadonlyMap<string, string>;
  /** One line per JWK left out (`key 3 "k1": kty "AKP" is not a key type for JWT-SVIDs`). */
  readonly ignored: readonly string[];
}

/** Bundles by trust domain name (`example.org`). */
export type JwtBundleSet = ReadonlyMap<string, JwtBundle>;

export interface Jwks {
  keys: JsonWebKey[];
}

/**
 * `use` values of keys that may verify a JWT-SVID: `jwt-svid`, or none at all (a plain JWKS
 * as go-spiffe and this helper write it, which holds JWT authorities only). Anything else
 * (`x509-svid` CA keys of a SPIFFE bundle, `enc`, `sig`) never verifies a JWT-SVID.
 */
const JWT_USES = new Set([undefined, 'jwt-svid']);
const KEY_TYPES = new Set(['EC', 'RSA', 'OKP']);

export function parseJwtBundle(trustDomain: TrustDomain, jwks: Uint8Array | string): JwtBundle {
  const what = `jwtbundle: bundle of trust domain "${trustDomain.name}"`;
  const fail = (message: string): HelperError => new HelperError('jwtbundle', `${what}: ${message}`);
  const text = typeof jwks === 'string' ? jwks : strictUtf8(jwks);
  if (text === undefined) throw fail('is not UTF-8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw fail(`is not JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(doc) || !Array.isArray(doc['keys'])) throw fail('is not a JWKS document: it needs a "keys" array');
  if (doc['keys'].length > LIMITS.jwtBundleKeys) throw new HelperError('jwtbundle', `${what}: holds more than ${LIMITS.jwtBundleKeys} keys`, { reason: 'too_large' });
  const ambiguousKeys = ambiguousJwks(text, fail);
  const keys = new Map<string, KeyObject>();
  const algs = new Map<string, string>();
  const ignored: string[] = [];
  doc['keys'].forEach((jwk: unknown, i) => {
    const kid = isPlainObject(jwk) && typeof jwk['kid'] === 'string' && jwk['kid'] !== '' ? jwk['kid'] : undefined;
    let why = ambiguousKeys.get(i) ?? (isPlainObject(jwk) ? unusable(jwk, kid, keys) : 'not a JSON object');
    if (why === undefined) {
      const record = jwk as Record<string, unknown>;
      let key: KeyObject | undefined;
      try {
        key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      } catch (e) {
        why = `cannot be loaded (${(e as Error).message})`;
      }
      why ??= encodingProblem(record) ?? unusedKey(key!) ?? weakRsaKey(key!) ?? algProblem(record['alg'], key!, kid!) ?? certificateProblem(record, key!);
      if (why === undefined) {
        keys.set(kid!, key!);
        if (typeof record['alg'] === 'string') algs.set(kid!, record['alg']);
        return;
      }
    }
    if (why !== null) ignored.push(`key ${i + 1}${kid ? ` ${quote(kid)}` : ''}: ${why}`);
  });
  return { trustDomain, keys, algs, ignored };
}

/**
 * The JWKs whose JSON reads two ways (a member twice, a lone surrogate), by index: each is ignored
 * like any key that cannot be used. The same outside the keys makes the document itself ambiguous.
 */
function ambiguousJwks(text: string, fail: (message: string) => HelperError): Map<number, string> {
  const byKey = new Map<number, string>();
  for (const { path, problem } of ambiguities(text)) {
    if (path[0] !== 'keys' || typeof path[1] !== 'number') throw fail(`is ambiguous JSON: it ${problem}`);
    if (!byKey.has(path[1])) byKey.set(path[1], `its JSON ${problem}`);
  }
  return byKey;
}

/** A JWK's own `alg` (RFC 7517 4.4), when it has one: a JWT-SVID algorithm its key can make. */
function algProblem(alg: unknown, key: KeyObject, kid: string): string | undefined {
  if (alg === undefined) return undefined;
  const spec = algSpec(alg);
  if (!spec) return `alg ${quote(alg)} is not a JWT-SVID algorithm (${ALG_NAMES})`;
  return keyMisfit(key, alg as string, spec, kid);
}

/** Why a JWK cannot verify JWT-SVIDs; null when it is simply for another use; undefined when usable. */
function unusable(jwk: Record<string, unknown>, kid: string | undefined, loaded: ReadonlyMap<string, KeyObject>): string | null | undefined {
  if (!JWT_USES.has(jwk['use'] as string | undefined)) return null;
  // RFC 7517 4.3: key_ops, when present, must allow "verify" for the key to check signatures.
  if ('key_ops' in jwk && !(Array.isArray(jwk['key_ops']) && jwk['key_ops'].includes('verify'))) return null;
  if (!KEY_TYPES.has(jwk['kty'] as string)) return `kty ${quote(jwk['kty'])} is not a key type for JWT-SVIDs (EC, RSA, OKP)`;
  // TB spec 4.2.2: a JWT authority has a key ID; tokens that name one must find it.
  if (kid === undefined) return 'no "kid"; a JWT authority must have a key ID';
  if (loaded.has(kid)) return 'its key ID appears twice (the first key keeps it)';
  if ('d' in jwk) return 'holds private key material; a bundle holds public keys only';
  return undefined;
}

/**
 * A FetchJWTBundles message (or a bundle file): JWKS documents keyed by trust domain, as
 * `spiffe://example.org` or `example.org`. The message is the complete state: one bad
 * bundle rejects it all, so that the last good set stays in force.
 */
export function parseJwtBundleSet(bundles: Readonly<Record<string, Uint8Array | string>> | ReadonlyMap<string, Uint8Array | string>): JwtBundleSet {
  const entries = bundles instanceof Map ? [...bundles] : Object.entries(bundles);
  if (entries.length === 0) throw new HelperError('jwtbundle', "jwtbundle: the response holds no bundles, not even our own trust domain's");
  if (entries.length > LIMITS.federatedBundles + 1) {
    throw new HelperError('jwtbundle', `jwtbundle: the response holds ${entries.length} bundles, more than ${LIMITS.federatedBundles + 1}`, { reason: 'too_large' });
  }
  const set = new Map<string, JwtBundle>();
  for (const [key, jwks] of entries) {
    let td: TrustDomain;
    try {
      td = TrustDomain.parse(key);
    } catch (e) {
      throw new HelperError('jwtbundle', `jwtbundle: bundle key ${quote(key)} is not a trust domain: ${quotedIn((e as Error).message, key)}`);
    }
    if (set.has(td.name)) throw new HelperError('jwtbundle', `jwtbundle: trust domain "${td.name}" has two bundles`);
    set.set(td.name, parseJwtBundle(td, jwks));
  }
  return set;
}

/**
 * A standard RFC 7517 JWKS of the bundle's keys, sorted by kid for stable output. No `use`
 * member, like go-spiffe's Marshal: generic verifiers (jose) skip keys whose `use` is not `sig`.
 * A key's `alg` stays: it restricts what the key may verify for every reader.
 */
export function jwtBundleToJwks(bundle: JwtBundle): Jwks {
  const kids = [...bundle.keys.keys()].sort();
  const alg = (kid: string) => (bundle.algs.has(kid) ? { alg: bundle.algs.get(kid) } : {});
  return { keys: kids.map((kid) => ({ kid, ...alg(kid), ...bundle.keys.get(kid)!.export({ format: 'jwk' }) })) };
}

/** The set's trust domain names, sorted: the order files and file entries are written in. */
export function sortedTrustDomains(set: JwtBundleSet): string[] {
  return [...set.keys()].sort();
}
