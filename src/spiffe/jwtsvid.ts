/**
 * JWT-SVIDs (JWT-SVID.md). Parsing is validation: a `JwtSvid` exists only for a token whose
 * header, signature (against the bundle of the subject's trust domain) and claims passed.
 * No error message ever holds the token: it is a bearer credential.
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import { HelperError } from '../errors.js';
import { isPlainObject } from '../guards.js';
import { quote, quotedIn } from '../quote.js';
import { CLOCK_SKEW_MS } from './chain.js';
import { parseSvidId, type SpiffeId } from './id.js';
import { LIMITS } from './limits.js';
import { ALG_NAMES, algSpec, keyMisfit, type AlgSpec } from './jws-algorithms.js';
import type { JwtBundleSet } from './jwtbundle.js';
import { parseStrictJson } from './strict-json.js';

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
  /** Leave out the checks of exp, nbf and iat against `now` (inspect reports an expired token on its own and still checks its signature). */
  ignoreTimes?: boolean;
}

const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;
const B64URL = /^[A-Za-z0-9_-]+$/;

export function parseAndValidateJwtSvid(token: string, options: ValidateOptions): JwtSvid {
  const now = options.now ?? new Date();
  // A token wrapped or copied with its line break would otherwise be "not base64url" in some part.
  if (/\s/.test(token)) throw invalid('token has whitespace or a line break in it; a compact JWS has none (RFC 7515 7.1)');
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid(`token is not a compact JWS: expected three dot-separated parts, got ${parts.length}`);
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  // Everything about the header is settled before any crypto runs.
  const header = decodeObject(headerPart, 'header');
  const alg = header['alg'];
  // An unsigned token has an empty third part: named for what it is, not as a malformed JWS.
  if (alg === 'none') throw invalid('alg "none" (an unsigned token) is never accepted');
  const spec = algSpec(alg);
  if (!spec) throw invalid(`header alg ${quote(alg)} is not allowed; JWT-SVIDs are signed with one of ${ALG_NAMES}`);
  if ('typ' in header && header['typ'] !== 'JWT' && header['typ'] !== 'JOSE') {
    throw invalid(`header typ ${quote(header['typ'])} must be "JWT" or "JOSE" when present`);
  }
  if ('crit' in header) throw invalid('header has "crit" extensions, which JWT-SVIDs do not use');
  // Members that make the payload something else than these claims: a nested JWT (RFC 7519 5.2), unencoded bytes (RFC 7797 3).
  if (typeof header['cty'] === 'string' && header['cty'].toUpperCase() === 'JWT') throw invalid('header cty "JWT" says the payload is a nested JWT; a JWT-SVID is not nested');
  if ('b64' in header && header['b64'] !== true) throw invalid(`header b64 ${quote(header['b64'])}: a JWT-SVID's payload is base64url-encoded`);
  if (!B64URL.test(signaturePart)) throw invalid('token signature is empty or not base64url');
  canonical(signaturePart, 'signature');
  // JWT-SVID 2.2: kid is optional. Without it, the keys of the trust domain that fit alg are tried, up to a bound of work.
  const kid = header['kid'];
  if (kid !== undefined && (typeof kid !== 'string' || kid === '')) throw invalid('header kid must be a non-empty string when present');

  const claims = decodeObject(payloadPart, 'payload');
  const id = subject(claims['sub']);
  const expiry = claimDate(claims, 'exp', true)!;

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
    if (!key) throw invalid(`key ${quote(kid)} is not in the JWT bundle of trust domain "${td}"`);
    const misfit = keyMisfit(key, alg as string, spec, kid) ?? algMismatch(bundle.algs.get(kid), alg as string, kid);
    if (misfit) throw invalid(misfit.startsWith('alg ') ? `header ${misfit}` : misfit);
    if (!verifies(spec, key, signed, signature)) throw invalid(`signature does not verify with key ${quote(kid)} of trust domain "${td}"`);
  } else {
    const fitting = [...bundle.keys].filter(([k, key]) => !keyMisfit(key, alg as string, spec, k) && !algMismatch(bundle.algs.get(k), alg as string, k));
    if (fitting.length === 0) throw invalid(`the token names no key ("kid") and no key of trust domain "${td}" fits alg ${alg as string}`);
    // Only keys of the signature's size can verify it; the others are not worth a check.
    let work = LIMITS.kidlessVerifyWork;
    const found = fitting.some(([, key]) => {
      if (signature.length !== signatureBytes(spec, key)) return false;
      work -= verifyWork(key);
      if (work < 0) throw invalid(`the token names no key ("kid"); its trust domain "${td}" has more ${alg as string} keys of its signature's size than are tried without one`);
      return verifies(spec, key, signed, signature);
    });
    if (!found) throw invalid(`the token names no key ("kid") and its signature verifies with none of the ${fitting.length} ${alg as string} keys of trust domain "${td}"`);
  }

  const audience = audiences(claims['aud']);
  if (!audience.includes(options.audience)) {
    throw invalid(`audience ${JSON.stringify(options.audience)} is not in the "aud" claim ${quote(audience)}`);
  }
  const notBefore = claimDate(claims, 'nbf', false);
  // iat in the future: not required by RFC 7519, but go-jose (go-spiffe) refuses it too, a clock or an issuer is wrong.
  const issuedAt = claimDate(claims, 'iat', false);
  if (!options.ignoreTimes) {
    if (expiry.getTime() <= now.getTime()) throw invalid(`token expired at ${expiry.toISOString()} (now ${now.toISOString()})`);
    if (notBefore && notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) throw invalid(`token is not valid before ${notBefore.toISOString()}`);
    if (issuedAt && issuedAt.getTime() > now.getTime() + CLOCK_SKEW_MS) throw invalid(`token was issued in the future (iat ${issuedAt.toISOString()})`);
  }
  return { token, id, audience, expiry, ...(issuedAt && { issuedAt }), hint: options.hint ?? '' };
}

function verifies(spec: AlgSpec, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  // One length per key (RFC 8017 8.2.2 step 1, RFC 7518 3.4): OpenSSL would take a PSS signature short of its leading zero.
  if (signature.length !== signatureBytes(spec, key)) return false;
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

/** What checking a signature with `key` costs, in RSA-2048 checks: it grows with the square of the modulus. */
function verifyWork(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  return bits === undefined ? 1 : Math.ceil((bits / 2048) ** 2);
}

/** RS/PS: the modulus length in bytes; ES: R and S, each as long as the curve's order. */
function signatureBytes(spec: AlgSpec, key: KeyObject): number {
  return spec.family === 'ES' ? 2 * spec.coordinateBytes! : Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/** A JWK that names its algorithm (RFC 7517 4.4) is used with that one only (RFC 8725 3.1). */
function algMismatch(keyAlg: string | undefined, alg: string, kid: string): string | undefined {
  return keyAlg === undefined || keyAlg === alg ? undefined : `key ${quote(kid)} is for alg ${keyAlg}, the token says ${alg}`;
}

function subject(sub: unknown): SpiffeId {
  if (sub === undefined) throw invalid('the "sub" claim is missing; it must hold the SPIFFE ID');
  if (typeof sub !== 'string') throw invalid('the "sub" claim must be a string holding a SPIFFE ID');
  try {
    return parseSvidId(sub);
  } catch (e) {
    throw invalid(`the "sub" claim is not a SPIFFE ID: ${quotedIn((e as Error).message, sub)}`);
  }
}

function audiences(aud: unknown): string[] {
  if (aud === undefined) throw invalid('the "aud" claim is missing');
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')) return aud;
  throw invalid('the "aud" claim must be a string or a non-empty array of strings');
}

function claimDate(claims: Record<string, unknown>, name: string, required: boolean): Date | undefined {
  const v = claims[name];
  if (v === undefined) {
    if (required) throw invalid(`the "${name}" claim is missing; a JWT-SVID must expire`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`the "${name}" claim must be a number of seconds since the epoch`);
  const date = numericDate(v);
  if (!date) throw invalid(`the "${name}" claim is not a date: ${v} seconds is beyond any date`);
  return date;
}

/**
 * An RFC 7519 NumericDate as a Date; undefined for anything else, a number of seconds no Date
 * can hold included (it would compare as never expired and print as "Invalid Date").
 */
export function numericDate(v: unknown): Date | undefined {
  if (typeof v !== 'number') return undefined;
  const date = new Date(v * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date;
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
  // Lenient on purpose: inspect shows what an ambiguous token seems to say, and the refusal says why it is one.
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function decodeObject(part: string, what: string): Record<string, unknown> {
  if (!B64URL.test(part)) throw invalid(`token ${what} is empty or not base64url`);
  canonical(part, what);
  const json = parseStrictJson(Buffer.from(part, 'base64url'));
  if ('problem' in json) throw invalid(json.problem === 'is not JSON' ? `token ${what} is not base64url-encoded JSON` : `token ${what} ${json.problem}`);
  if (!isPlainObject(json.value)) throw invalid(`token ${what} is not a JSON object`);
  return json.value;
}

/**
 * One spelling per byte string: no dangling character, no spare bits set (Node's decoder
 * ignores both), so that a token cannot be altered into another string that still verifies.
 */
function canonical(part: string, what: string): void {
  if (Buffer.from(part, 'base64url').toString('base64url') !== part) throw invalid(`token ${what} is not canonical base64url`);
}

function invalid(message: string): HelperError {
  return new HelperError('jwtsvid', `jwtsvid: ${message}`);
}
