/**
 * The JWT bundle file in either layout the helper writes (see output/jwt-writer.ts), read back
 * by `jwt verify` and `inspect`: {"<trust domain>": "<base64 JWKS>"}, or one plain JWKS.
 */
import { HelperError } from '../errors.js';
import type { TrustDomain } from './id.js';
import { parseJwtBundle, parseJwtBundleSet, type JwtBundleSet } from './jwtbundle.js';

/** `trustDomain`: keep that trust domain's bundle only; required for a plain JWKS, which does not name it. */
export function parseJwtBundleFile(content: string, file: string, trustDomain: TrustDomain | undefined): JwtBundleSet {
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch (e) {
    throw new HelperError('jwtbundle', `jwtbundle: ${file} is not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new HelperError('jwtbundle', `jwtbundle: ${file} is neither a JWKS nor a {"<trust domain>": "<base64 JWKS>"} object`);
  }
  // A trust domain may be named "keys": in the Go layout its value is a base64 string, never a JWKS's array.
  if ('keys' in doc && typeof (doc as Record<string, unknown>)['keys'] !== 'string') {
    // A plain JWKS says nothing about whose keys these are; guessing from the token would let it choose.
    if (!trustDomain) throw new HelperError('usage', `${file} is a plain JWKS, which does not name its trust domain: add --trust-domain <name>`);
    return new Map([[trustDomain.name, parseJwtBundle(trustDomain, content)]]);
  }
  // A Map: "__proto__" is a valid trust domain name, which an object would take for its prototype.
  const decoded = new Map<string, Buffer>();
  for (const [td, value] of Object.entries(doc)) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      throw new HelperError('jwtbundle', `jwtbundle: ${file}: the value for "${td}" must be a base64 string of a JWKS document`);
    }
    decoded.set(td, Buffer.from(value, 'base64'));
  }
  const set = parseJwtBundleSet(decoded);
  if (!trustDomain) return set;
  const only = set.get(trustDomain.name);
  if (!only) throw new HelperError('jwtbundle', `jwtbundle: ${file} has no bundle for trust domain "${trustDomain.name}"`);
  return new Map([[trustDomain.name, only]]);
}
