import { createHash, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { HelperError } from '../errors.js';
import { SpiffeId, type TrustDomain } from '../spiffe/id.js';
import { decodeJwtSegment } from '../spiffe/jwtsvid.js';

/**
 * The development agent's JWT-SVID authority for one trust domain: one signing key with a
 * stable `kid`, compact JWS out, and the checks ValidateJWTSVID makes on the way back in.
 */
export type JwtAlg = 'ES256' | 'RS256';

export interface JwtClaims {
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  [claim: string]: unknown;
}

/** A JWKS entry as SPIRE publishes JWT authorities: `use` is `jwt-svid`, not `sig`. */
export interface Jwk {
  kty: string;
  kid: string;
  use: 'jwt-svid';
  [member: string]: unknown;
}

const generate = promisify(generateKeyPair);

export class JwtIssuer {
  private constructor(
    readonly trustDomain: TrustDomain,
    readonly alg: JwtAlg,
    readonly kid: string,
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
  ) {}

  static async create(trustDomain: TrustDomain, alg: JwtAlg = 'ES256'): Promise<JwtIssuer> {
    const { privateKey, publicKey } = alg === 'ES256' ? await generate('ec', { namedCurve: 'P-256' }) : await generate('rsa', { modulusLength: 2048 });
    return new JwtIssuer(trustDomain, alg, thumbprint(publicKey), privateKey, publicKey);
  }

  sign(spiffeId: SpiffeId, audience: string[], ttlSeconds: number, now = new Date()): string {
    if (audience.length === 0) throw new HelperError('jwtsvid', 'a JWT-SVID needs at least one audience');
    const iat = Math.floor(now.getTime() / 1000);
    // SPIRE (go-jose) writes a single audience as a string: clients must accept both forms.
    const aud = audience.length === 1 ? audience[0]! : audience;
    const claims: JwtClaims = { sub: spiffeId.toString(), aud, exp: iat + ttlSeconds, iat };
    const signingInput = `${b64json({ alg: this.alg, kid: this.kid, typ: 'JWT' })}.${b64json(claims)}`;
    return `${signingInput}.${sign('sha256', Buffer.from(signingInput), this.signOptions(this.privateKey)).toString('base64url')}`;
  }

  jwk(): Jwk {
    const { kty, ...rest } = this.publicKey.export({ format: 'jwk' });
    return { kty: kty!, kid: this.kid, use: 'jwt-svid', ...rest };
  }

  /** Checks the signature only; claims are the caller's business (see verifyJwtSvid). */
  verifySignature(signingInput: string, signature: Buffer): boolean {
    return verify('sha256', Buffer.from(signingInput), this.signOptions(this.publicKey), signature);
  }

  private signOptions(key: KeyObject) {
    // JWS ES256 signatures are the raw r||s pair, not the DER that node:crypto defaults to.
    return { key, dsaEncoding: 'ieee-p1363' as const };
  }
}

export interface VerifiedJwtSvid {
  spiffeId: SpiffeId;
  claims: JwtClaims;
}

/**
 * Validates a JWT-SVID as a Workload API agent does: the `sub` claim names the trust domain
 * whose authority must have signed it, then `kid`, `alg`, signature, `aud` and `exp`.
 */
export function verifyJwtSvid(token: string, audience: string, issuerFor: (trustDomain: string) => JwtIssuer | undefined, now = new Date()): VerifiedJwtSvid {
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('is not a compact JWS (three dot-separated parts)');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart, 'header');
  const claims = decodeJson(payloadPart, 'payload') as Partial<JwtClaims>;
  if (typeof claims.sub !== 'string') throw invalid('has no "sub" claim');
  let spiffeId: SpiffeId;
  try {
    spiffeId = SpiffeId.parse(claims.sub);
  } catch (e) {
    throw invalid(`"sub" is not a SPIFFE ID: ${(e as Error).message}`);
  }
  const issuer = issuerFor(spiffeId.trustDomain.name);
  if (!issuer) throw invalid(`is from trust domain "${spiffeId.trustDomain.name}", which this agent has no bundle for`);
  if (header['kid'] !== issuer.kid) throw invalid(`key ${JSON.stringify(header['kid'])} is not in the bundle`);
  if (header['alg'] !== issuer.alg) throw invalid(`alg ${JSON.stringify(header['alg'])} does not match the key (${issuer.alg})`);
  if (!issuer.verifySignature(`${headerPart}.${payloadPart}`, Buffer.from(signaturePart, 'base64url'))) {
    throw invalid('signature does not verify');
  }
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (!audiences.includes(audience)) throw invalid(`audience ${JSON.stringify(audience)} is not in "aud"`);
  if (typeof claims.exp !== 'number') throw invalid('has no "exp" claim');
  if (claims.exp * 1000 <= now.getTime()) throw invalid(`expired at ${new Date(claims.exp * 1000).toISOString()}`);
  return { spiffeId, claims: claims as JwtClaims };
}

function b64json(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  const value = decodeJwtSegment(part);
  if (!value) throw invalid(`${what} is not a base64url JSON object`);
  return value;
}

/** RFC 7638 thumbprint: the same key always gets the same `kid`. */
function thumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function invalid(message: string): HelperError {
  return new HelperError('jwtsvid', `JWT-SVID ${message}`);
}
