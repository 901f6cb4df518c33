/**
 * JWT-SVIDs (JWT-SVID.md). Parsing is validation: a `JwtSvid` exists only for a token whose
 * header, signature (against the bundle of the subject's trust domain) and claims passed.
 * No error message ever holds the token: it is a bearer credential.
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import { HelperError } from '../errors.js';
import { isPlainObject } from '../guards.js';
import { CLOCK_SKEW_MS } from './chain.js';
import { SpiffeId } from './id.js';
import type { JwtBundleSet } from './jwtbundle.js';

export interface JwtSvid {
  readonly token: string;
  readonly id: SpiffeId;
  readonly audience: readonly string[];
  readonly expiry: Date;
  readonly issuedAt?: Date;
  readonly hint: string;
}

/** A JWT-SVID as the agent sends it, not yet validated. */
export interface RawJwtSvid {
  spiffeId: string;
  token: string;
  hint: string;
}

export interface ValidateOptions {
  /** Must be one of the token's `aud` values. */
  audience: string;
  bundles: JwtBundleSet;
  now?: Date;
  hint?: string;
}

type Family = 'RS' | 'PS' | 'ES';
interface AlgSpec {
  family: Family;
  hash: 'sha256' | 'sha384' | 'sha512';
  /** ES*: the curve the key must be on (node's name for it, JOSE's name). */
  curve?: [string, string];
}

const ALGS: Readonly<Record<string, AlgSpec>> = {
  RS256: { family: 'RS', hash: 'sha256' },
  RS384: { family: 'RS', hash: 'sha384' },
  RS512: { family: 'RS', hash: 'sha512' },
  PS256: { family: 'PS', hash: 'sha256' },
  PS384: { family: 'PS', hash: 'sha384' },
  PS512: { family: 'PS', hash: 'sha512' },
  ES256: { family: 'ES', hash: 'sha256', curve: ['prime256v1', 'P-256'] },
  ES384: { family: 'ES', hash: 'sha384', curve: ['secp384r1', 'P-384'] },
  ES512: { family: 'ES', hash: 'sha512', curve: ['secp521r1', 'P-521'] },
};
const ALG_NAMES = Object.keys(ALGS).join(', ');
const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;
const B64URL = /^[A-Za-z0-9_-]+$/;

export function parseAndValidateJwtSvid(token: string, options: ValidateOptions): JwtSvid {
  const now = options.now ?? new Date();
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid(`token is not a compact JWS: expected three dot-separated parts, got ${parts.length}`);
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  // Everything about the header is settled before any crypto runs.
  const header = decodeObject(headerPart, 'header');
  const alg = header['alg'];
  // An unsigned token has an empty third part: named for what it is, not as a malformed JWS.
  if (alg === 'none') throw invalid('alg "none" (an unsigned token) is never accepted');
  // hasOwn: a header alg of "constructor" must not find Object.prototype's.
  const spec = typeof alg === 'string' && Object.hasOwn(ALGS, alg) ? ALGS[alg] : undefined;
  if (!spec) throw invalid(`header alg ${JSON.stringify(alg)} is not allowed; JWT-SVIDs are signed with one of ${ALG_NAMES}`);
  if ('typ' in header && header['typ'] !== 'JWT' && header['typ'] !== 'JOSE') {
    throw invalid(`header typ ${JSON.stringify(header['typ'])} must be "JWT" or "JOSE" when present`);
  }
  if ('crit' in header) throw invalid('header has "crit" extensions, which JWT-SVIDs do not use');
  if (!B64URL.test(signaturePart)) throw invalid('token signature is empty or not base64url');
  // JWT-SVID 2.2: kid is optional. Without it, every key of the trust domain that fits alg is tried.
  const kid = header['kid'];
  if (kid !== undefined && (typeof kid !== 'string' || kid === '')) throw invalid('header kid must be a non-empty string when present');

  const claims = decodeObject(payloadPart, 'payload');
  const id = subject(claims['sub']);
  const expiry = numericDate(claims, 'exp', true)!;

  const td = id.trustDomain.name;
  const bundle = options.bundles.get(td);
  if (!bundle) {
    const have = [...options.bundles.keys()].map((n) => `"${n}"`).join(', ') || 'none';
    throw invalid(`no JWT bundle for trust domain "${td}" of ${id} (bundles: ${have})`);
  }
  const signature = Buffer.from(signaturePart, 'base64url');
  const signed = Buffer.from(`${headerPart}.${payloadPart}`);
  if (kid !== undefined) {
    const key = bundle.keys.get(kid);
    if (!key) throw invalid(`key ${JSON.stringify(kid)} is not in the JWT bundle of trust domain "${td}"`);
    const misfit = keyMisfit(key, alg as string, spec, kid);
    if (misfit) throw invalid(misfit);
    if (!verifies(spec, key, signed, signature)) throw invalid(`signature does not verify with key ${JSON.stringify(kid)} of trust domain "${td}"`);
  } else {
    const fitting = [...bundle.keys].filter(([k, key]) => !keyMisfit(key, alg as string, spec, k));
    if (fitting.length === 0) throw invalid(`the token names no key ("kid") and no key of trust domain "${td}" fits alg ${alg as string}`);
    if (!fitting.some(([, key]) => verifies(spec, key, signed, signature))) {
      throw invalid(`the token names no key ("kid") and its signature verifies with none of the ${fitting.length} ${alg as string} keys of trust domain "${td}"`);
    }
  }

  const audience = audiences(claims['aud']);
  if (!audience.includes(options.audience)) {
    throw invalid(`audience ${JSON.stringify(options.audience)} is not in the "aud" claim ${JSON.stringify(audience)}`);
  }
  if (expiry.getTime() <= now.getTime()) throw invalid(`token expired at ${expiry.toISOString()} (now ${now.toISOString()})`);
  const notBefore = numericDate(claims, 'nbf', false);
  if (notBefore && notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) throw invalid(`token is not valid before ${notBefore.toISOString()}`);
  const issuedAt = numericDate(claims, 'iat', false);
  return { token, id, audience, expiry, ...(issuedAt && { issuedAt }), hint: options.hint ?? '' };
}

function verifies(spec: AlgSpec, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    switch (spec.family) {
      case 'RS':
        return verify(spec.hash, data, key, signature);
      case 'PS':
        return verify(spec.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_BYTES[spec.hash] }, signature);
      case 'ES':
        // JWS carries the raw r||s pair, not the DER that node:crypto expects by default.
        return verify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch {
    return false;
  }
}

/** Why a key cannot check this alg (a wrong type would make node:crypto throw or verify something else). */
function keyMisfit(key: KeyObject, alg: string, spec: AlgSpec, kid: string): string | undefined {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const fits = spec.family === 'ES' ? type === 'ec' && curve === spec.curve![0] : type === 'rsa' || type === 'rsa-pss';
  if (fits) return undefined;
  const has = type === 'ec' ? `an EC ${curve} key` : `a ${type} key`;
  const needs = spec.family === 'ES' ? `an EC ${spec.curve![1]} key` : 'an RSA key';
  return `header alg ${alg} needs ${needs}, but key ${JSON.stringify(kid)} is ${has}`;
}

function subject(sub: unknown): SpiffeId {
  if (sub === undefined) throw invalid('the "sub" claim is missing; it must hold the SPIFFE ID');
  if (typeof sub !== 'string') throw invalid('the "sub" claim must be a string holding a SPIFFE ID');
  try {
    return SpiffeId.parse(sub);
  } catch (e) {
    throw invalid(`the "sub" claim is not a SPIFFE ID: ${(e as Error).message}`);
  }
}

function audiences(aud: unknown): string[] {
  if (aud === undefined) throw invalid('the "aud" claim is missing');
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) return aud;
  throw invalid('the "aud" claim must be a string or a non-empty array of strings');
}

function numericDate(claims: Record<string, unknown>, name: string, required: boolean): Date | undefined {
  const v = claims[name];
  if (v === undefined) {
    if (required) throw invalid(`the "${name}" claim is missing; a JWT-SVID must expire`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`the "${name}" claim must be a number of seconds since the epoch`);
  return new Date(v * 1000);
}

/** A token as the agent sent it: valid, and for the SPIFFE ID the agent said it is for. */
export function validateSentJwtSvid(raw: RawJwtSvid, options: Omit<ValidateOptions, 'hint'>): JwtSvid {
  const svid = parseAndValidateJwtSvid(raw.token, { ...options, hint: raw.hint });
  if (raw.spiffeId !== svid.id.toString()) throw invalid(`the response says the token is for ${JSON.stringify(raw.spiffeId)} but its "sub" claim is ${svid.id}`);
  return svid;
}

/**
 * One part of a compact JWS (header or claims) as a JSON object, or undefined. It checks
 * nothing else: for showing what a token says (inspect, the dev agent), never for trusting it.
 */
export function decodeJwtSegment(part: string): Record<string, unknown> | undefined {
  try {
    const value = decodeJson(part);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function decodeObject(part: string, what: string): Record<string, unknown> {
  if (!B64URL.test(part)) throw invalid(`token ${what} is empty or not base64url`);
  let value: unknown;
  try {
    value = decodeJson(part);
  } catch {
    throw invalid(`token ${what} is not base64url-encoded JSON`);
  }
  if (!isPlainObject(value)) throw invalid(`token ${what} is not a JSON object`);
  return value;
}

function decodeJson(part: string): unknown {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function invalid(message: string): HelperError {
  return new HelperError('jwtsvid', `jwtsvid: ${message}`);
}
