/**
 * Named JWT-SVIDs and JWT bundles (third probe round): how a token is encoded and signed, and
 * JWKs whose members contradict each other. Shared by the unit tests
 * (test/spiffe/jwt-cases.test.ts) and the go-spiffe cross-check (test/interop), which runs the
 * very same token against the very same JWKS. Where go-spiffe differs, `goSpiffeDiffers` says
 * why we follow the standard instead.
 */
import { constants, createHash, generateKeyPairSync, sign, type JsonWebKey, type webcrypto } from 'node:crypto';
import { issue } from './certs.js';
import { jwk, testKey, token, type TestKey } from './jwt.js';

export const CASE_TD = 'example.org';
export const CASE_AUDIENCE = 'api';

export interface JwtCase {
  name: string;
  /** Our refusal (a pattern of the message); undefined: the token is valid. */
  refused?: RegExp;
  /** The JWKS as a whole is refused (a pattern of the message): no token verifies. */
  bundleRefused?: RegExp;
  /** A JWK the bundle must leave out (and say why), the token still verifying with the other key. */
  ignoredKid?: string;
  /** Why go-spiffe (jwtbundle.Parse, jwtsvid.ParseAndValidate) decides otherwise on the same input: another verdict or another key count. */
  goSpiffeDiffers?: string;
  make(): Promise<{ token: string; jwks: string }>;
}

const ec = testKey('ES256', { kid: 'ec' });
const rsa = testKey('RS256', { kid: 'rsa' });
const ecJwks = JSON.stringify({ keys: [jwk(ec)] });
const rsaJwks = JSON.stringify({ keys: [jwk(rsa)] });
const now = () => Math.floor(Date.now() / 1000);
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const claimsJson = (extra = '') => `{"sub":"spiffe://${CASE_TD}/w","aud":"${CASE_AUDIENCE}","exp":${now() + 300}${extra}}`;
const HEADER = '{"alg":"ES256","kid":"ec","typ":"JWT"}';

/** A token whose header and claims are these exact bytes, signed ES256 by `key`. */
function rawEs(header: string | Buffer, claims: string | Buffer, key: TestKey = ec): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** A token with its signature bytes replaced. */
function resigned(t: string, change: (signature: Buffer, input: string) => Buffer): string {
  const at = t.lastIndexOf('.');
  return `${t.slice(0, at)}.${change(Buffer.from(t.slice(at + 1), 'base64url'), t.slice(0, at)).toString('base64url')}`;
}

/** An RSA token whose signature starts with a zero byte (about 1 in 256 does), that byte dropped. */
function shortRsa(alg: 'RS256' | 'PS256'): string {
  for (let i = 0; ; i++) {
    const t = token(alg, rsa, { claims: { jti: String(i) } });
    const short = resigned(t, (s) => (s[0] === 0 ? s.subarray(1) : s));
    if (short !== t) return short;
  }
}

const P256_N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
/** The other valid ECDSA signature of the same message: (r, n - s). */
const highS = (s: Buffer) => Buffer.concat([s.subarray(0, 32), Buffer.from((P256_N - BigInt(`0x${s.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0'), 'hex')]);

/** A good ES256 token and a JWKS of its key plus `extra` (a JWK that is to be ignored or kept). */
const withKey = (extra: Record<string, unknown>) => ({ token: token('ES256', ec), jwks: JSON.stringify({ keys: [extra, jwk(ec)] }) });

/** The JWK of a fresh P-256 key "bad", with members re-encoded by `change`: the same point, another spelling. */
function badly(change: (k: JsonWebKey) => Partial<JsonWebKey>): Record<string, unknown> {
  const k = jwk(testKey('ES256', { kid: 'bad' }));
  return { ...k, ...change(k) };
}

/** An RSA JWK for the shared RSA key with a certificate in x5c: of that key, or of another. */
async function rsaWithX5c(sameKey: boolean, extra: (der: Buffer) => Record<string, unknown> = () => ({})): Promise<Record<string, unknown>> {
  const keys = sameKey ? { privateKey: rsaCryptoKey('private'), publicKey: rsaCryptoKey('public') } : undefined;
  const cert = await issue({ keyType: 'rsa-2048', ...(keys && { keys }) });
  return { ...jwk(rsa), kid: 'x5c', x5c: [cert.der.toString('base64')], ...extra(cert.der) };
}
function rsaCryptoKey(which: 'private' | 'public'): webcrypto.CryptoKey {
  const key = which === 'private' ? rsa.privateKey : rsa.publicKey;
  return key.toCryptoKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, which === 'private' ? ['sign'] : ['verify']);
}

export const jwtCases: JwtCase[] = [
  // Signature encodings (RFC 7518 3.3-3.5, RFC 8017 8.1.2/8.2.2 step 1: a signature is exactly k octets).
  { name: 'RS256 signature one byte short (its leading zero dropped)', refused: /signature does not verify/, make: async () => ({ token: shortRsa('RS256'), jwks: rsaJwks }) },
  { name: 'PS256 signature one byte short (its leading zero dropped)', refused: /signature does not verify/, make: async () => ({ token: shortRsa('PS256'), jwks: rsaJwks }) },
  {
    name: 'RS256 signature with a zero byte prepended',
    refused: /signature does not verify/,
    make: async () => ({ token: resigned(token('RS256', rsa), (s) => Buffer.concat([Buffer.alloc(1), s])), jwks: rsaJwks }),
  },
  {
    name: 'ES256 signature in DER instead of R||S',
    refused: /signature does not verify/,
    make: async () => ({ token: resigned(token('ES256', ec), (_, input) => sign('sha256', Buffer.from(input), ec.privateKey)), jwks: ecJwks }),
  },
  {
    name: 'ES256 signature with a trailing zero byte',
    refused: /signature does not verify/,
    make: async () => ({ token: resigned(token('ES256', ec), (s) => Buffer.concat([s, Buffer.alloc(1)])), jwks: ecJwks }),
  },
  // RFC 7518 3.4 does not ask for low S; Go's crypto/ecdsa and OpenSSL accept both.
  { name: 'ES256 signature with a high S (r, n - s)', make: async () => ({ token: resigned(token('ES256', ec), highS), jwks: ecJwks }) },
  {
    name: 'PS256 signed with an empty salt',
    refused: /signature does not verify/,
    goSpiffeDiffers: 'go-jose verifies PSS with any salt length (PSSSaltLengthAuto); RFC 7518 3.5: the salt is as long as the hash output',
    make: async () => ({
      token: resigned(token('PS256', rsa), (_, input) => sign('sha256', Buffer.from(input), { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 0 })),
      jwks: rsaJwks,
    }),
  },
  // JSON of header and claims (RFC 7515 4 / RFC 7519 4: duplicate names MAY be refused; go-jose refuses them).
  { name: 'header with "kid" twice', refused: /token header .*member "kid" twice/, make: async () => ({ token: rawEs('{"alg":"ES256","kid":"nope","kid":"ec"}', claimsJson()), jwks: ecJwks }) },
  {
    name: 'claims with "sub" twice',
    refused: /token payload .*member "sub" twice/,
    make: async () => ({ token: rawEs(HEADER, `{"sub":"spiffe://${CASE_TD}/admin","sub":"spiffe://${CASE_TD}/w","aud":"api","exp":${now() + 300}}`), jwks: ecJwks }),
  },
  { name: 'claims with "exp" twice', refused: /token payload .*member "exp" twice/, make: async () => ({ token: rawEs(HEADER, claimsJson(`,"exp":1`)), jwks: ecJwks }) },
  { name: 'a nested claim object with a member twice', refused: /token payload .*member "a" twice/, make: async () => ({ token: rawEs(HEADER, claimsJson(',"x":[{"a":1,"a":2}]')), jwks: ecJwks }) },
  { name: 'members of the same name in two objects', make: async () => ({ token: rawEs(HEADER, claimsJson(',"x":{"a":1},"y":{"a":1,"x":2}')), jwks: ecJwks }) },
  // RFC 8259 8.1: JSON is UTF-8, without a byte order mark.
  { name: 'header with a UTF-8 byte order mark', refused: /token header is not base64url-encoded JSON/, make: async () => ({ token: rawEs(`\ufeff${HEADER}`, claimsJson()), jwks: ecJwks }) },
  {
    name: 'claims that are not UTF-8 (a 0xFF byte in a string)',
    refused: /token payload is not UTF-8/,
    goSpiffeDiffers: "Go's JSON decoder turns invalid UTF-8 into U+FFFD; RFC 8259 8.1 and RFC 7515 5.2 ask for UTF-8",
    make: async () => ({ token: rawEs(HEADER, Buffer.concat([Buffer.from(claimsJson(',"x":"a').slice(0, -1)), Buffer.from([0xff]), Buffer.from('"}')])), jwks: ecJwks }),
  },
  {
    name: 'an audience with a lone surrogate escape',
    refused: /token payload .*a lone UTF-16 surrogate/,
    goSpiffeDiffers: "Go's JSON decoder turns a lone surrogate into U+FFFD, so two audiences could compare equal; RFC 8259 8.2: such strings are not interoperable",
    make: async () => ({ token: rawEs(HEADER, claimsJson().replace('"aud":"api"', '"aud":["api","x\\ud800"]')), jwks: ecJwks }),
  },
  { name: 'escaped surrogate pair (U+1F600) in a claim', make: async () => ({ token: rawEs(HEADER, claimsJson(',"x":"\\ud83d\\ude00"')), jwks: ecJwks }) },
  // Header members that change what the payload is (RFC 7519 5.2, RFC 7797 3): never a JWT-SVID.
  {
    name: 'cty "JWT" (a nested JWT, whose claims are not these)',
    refused: /header cty "JWT" says the payload is a nested JWT/,
    goSpiffeDiffers: 'go-jose ignores cty; RFC 7519 7.2 step 8: with cty JWT the payload is another JWT, not the claims',
    make: async () => ({ token: rawEs('{"alg":"ES256","kid":"ec","cty":"JWT"}', claimsJson()), jwks: ecJwks }),
  },
  { name: 'b64 false without crit', refused: /header b64 false/, make: async () => ({ token: rawEs('{"alg":"ES256","kid":"ec","b64":false}', claimsJson()), jwks: ecJwks }) },
  // JWT-SVID spec 2.3: typ, when present, is JWT or JOSE, as written (go-spiffe compares exactly too).
  { name: 'typ "jwt" in lower case', refused: /header typ "jwt" must be "JWT" or "JOSE"/, make: async () => ({ token: rawEs('{"alg":"ES256","kid":"ec","typ":"jwt"}', claimsJson()), jwks: ecJwks }) },
  { name: 'typ "application/jwt"', refused: /header typ "application\/jwt"/, make: async () => ({ token: rawEs('{"alg":"ES256","kid":"ec","typ":"application/jwt"}', claimsJson()), jwks: ecJwks }) },
  {
    name: 'crit naming an extension nobody knows',
    refused: /"crit" extensions/,
    make: async () => ({ token: rawEs('{"alg":"ES256","kid":"ec","crit":["example.org/x"],"example.org/x":1}', claimsJson()), jwks: ecJwks }),
  },
  {
    name: 'crit ["b64"] with b64 true',
    refused: /"crit" extensions/,
    goSpiffeDiffers: 'go-jose understands b64 and accepts it; JWT-SVIDs use no extension, and RFC 7797 7 keeps b64 away from JWTs',
    make: async () => ({ token: rawEs('{"alg":"ES256","kid":"ec","crit":["b64"],"b64":true}', claimsJson()), jwks: ecJwks }),
  },
  { name: 'zip (a JWE-only member) is ignored', make: async () => ({ token: rawEs('{"alg":"ES256","kid":"ec","zip":"DEF"}', claimsJson()), jwks: ecJwks }) },
  // Keys named by the token itself are never trusted (RFC 8725 3.10): only the bundle's.
  {
    name: 'embedded jwk, jku and x5u of the signing key, no kid',
    refused: /verifies with none of the 1 ES256 keys/,
    make: async () => {
      const attacker = testKey('ES256');
      return {
        token: rawEs(JSON.stringify({ alg: 'ES256', jwk: attacker.publicKey.export({ format: 'jwk' }), jku: 'https://evil.test/jwks', x5u: 'https://evil.test/c' }), claimsJson(), attacker),
        jwks: ecJwks,
      };
    },
  },
  {
    name: "embedded jwk of an attacker, kid of the bundle's key",
    refused: /signature does not verify with key "ec"/,
    make: async () => {
      const attacker = testKey('ES256');
      return { token: rawEs(JSON.stringify({ alg: 'ES256', kid: 'ec', jwk: attacker.publicKey.export({ format: 'jwk' }) }), claimsJson(), attacker), jwks: ecJwks };
    },
  },
  // Algorithms (JWT-SVID spec 3; go-spiffe's allowed list is the same nine).
  { name: 'HS256 keyed with the public key (algorithm confusion)', refused: /header alg "HS256" is not allowed/, make: async () => ({ token: token('HS256', ec), jwks: ecJwks }) },
  {
    name: 'EdDSA with an Ed25519 key in the bundle',
    refused: /header alg "EdDSA" is not allowed/,
    ignoredKid: 'ed',
    make: async () => {
      const ed = generateKeyPairSync('ed25519');
      const input = `${b64('{"alg":"EdDSA","kid":"ed"}')}.${b64(claimsJson())}`;
      const jwks = JSON.stringify({ keys: [{ ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed' }, jwk(ec)] });
      return { token: `${input}.${sign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`, jwks };
    },
  },
  { name: 'five parts (JWE-shaped)', refused: /got 5/, make: async () => ({ token: `${token('ES256', ec)}.x.y`, jwks: ecJwks }) },
  // Compact serialization only (RFC 7515 7.1, RFC 7519 7.2): no whitespace, no JSON serialization.
  {
    name: 'a trailing newline',
    refused: /token has whitespace or a line break in it/,
    goSpiffeDiffers: 'go-jose strips all whitespace before parsing; RFC 7515 7.1: the compact serialization has none',
    make: async () => ({ token: `${token('ES256', ec)}\n`, jwks: ecJwks }),
  },
  {
    name: 'wrapped at 64 characters',
    refused: /token has whitespace or a line break in it/,
    goSpiffeDiffers: 'go-jose strips all whitespace before parsing; RFC 7515 7.1: the compact serialization has none',
    make: async () => ({ token: token('ES256', ec).replace(/.{64}/g, '$&\r\n'), jwks: ecJwks }),
  },
  {
    name: 'the flattened JWS JSON serialization',
    refused: /not a compact JWS/,
    make: async () => {
      const [protectedHeader, payload, signature] = token('ES256', ec).split('.');
      return { token: JSON.stringify({ protected: protectedHeader, payload, signature }), jwks: ecJwks };
    },
  },
  // RFC 7519 4.1.4: "MUST be before the expiration time", leeway MAY be given; an expired token is of no use to write or to trust.
  {
    name: 'exp 30 s ago',
    refused: /token expired at/,
    goSpiffeDiffers: 'go-jose allows a minute of leeway on exp; a token past its exp is not written nor trusted here',
    make: async () => ({ token: token('ES256', ec, { claims: { exp: now() - 30 } }), jwks: ecJwks }),
  },
  { name: 'nbf 30 s ahead (within the clock-skew allowance)', make: async () => ({ token: token('ES256', ec, { claims: { nbf: now() + 30 } }), jwks: ecJwks }) },
  // Claims as go-jose reads them too: aud a string or a list matched exactly, NumericDates that are numbers, sub a SPIFFE ID.
  ...(
    [
      ['aud a string', '"aud":"api"', undefined],
      ['aud an empty list', '"aud":[]', /"aud" claim must be a string or a non-empty array/],
      ['aud "API" (case differs)', '"aud":"API"', /audience "api" is not in/],
      ['aud "api/" (trailing slash)', '"aud":["api/"]', /audience "api" is not in/],
      ['exp with a fraction', `"exp":${now() + 300}.75`, undefined],
      ['exp in exponent form', `"exp":${(now() + 300) / 1e9}e9`, undefined],
      ['exp 1e400 (beyond a double)', '"exp":1e400', /the "exp" claim must be a number/],
      ['exp a numeric string', `"exp":"${now() + 300}"`, /the "exp" claim must be a number/],
      ['exp negative', '"exp":-1', /token expired at 1969/],
      ['sub with a percent-encoded path', '"sub":"spiffe://example.org/%41"', /the "sub" claim is not a SPIFFE ID/],
      ['sub with a dot segment', '"sub":"spiffe://example.org/a/../w"', /path has a dot segment/],
      ['sub with a port', '"sub":"spiffe://example.org:443/w"', /the "sub" claim is not a SPIFFE ID/],
      ['sub with user info', '"sub":"spiffe://u@example.org/w"', /the "sub" claim is not a SPIFFE ID/],
      ['sub with a query', '"sub":"spiffe://example.org/w?x=1"', /the "sub" claim is not a SPIFFE ID/],
      ['sub with a trailing slash', '"sub":"spiffe://example.org/w/"', /trailing slash/],
    ] as const
  ).map(
    ([name, member, refused]): JwtCase => ({
      name,
      ...(refused && { refused }),
      make: async () => {
        const [field] = member.split(':');
        const claims = JSON.parse(claimsJson()) as Record<string, unknown>;
        delete claims[JSON.parse(field!) as string];
        return { token: rawEs(HEADER, `${JSON.stringify(claims).slice(0, -1)},${member}}`), jwks: ecJwks };
      },
    }),
  ),
  // NumericDate (RFC 7519 2, 4.1.5): null is no number.
  {
    name: 'nbf null',
    refused: /the "nbf" claim must be a number/,
    goSpiffeDiffers: 'go-jose reads null as an absent nbf; RFC 7519 4.1.5: nbf MUST be a number',
    make: async () => ({ token: rawEs(HEADER, claimsJson(',"nbf":null')), jwks: ecJwks }),
  },
  // TB spec 4.2.1 / workload-api.md corrections: only keys whose use is jwt-svid (or absent) verify JWT-SVIDs.
  ...(['x509-svid', 'sig'] as const).map(
    (use): JwtCase => ({
      name: `the signing key present with use "${use}" only`,
      refused: /key "ec" is not in the JWT bundle/,
      goSpiffeDiffers: "go-spiffe's jwtbundle.Parse ignores use and takes every key; a key of another use is no JWT authority",
      make: async () => ({ token: token('ES256', ec), jwks: JSON.stringify({ keys: [jwk(ec, { use })] }) }),
    }),
  ),
  // JWKs whose members contradict each other (RFC 7517 4.7-4.9): the key is ignored, the others kept.
  { name: 'a JWK whose x5c certificate holds its own key (kept)', make: async () => withKey(await rsaWithX5c(true)) },
  {
    name: 'a JWK whose x5c certificate holds another key (ignored)',
    ignoredKid: 'x5c',
    goSpiffeDiffers: 'go-jose refuses the whole JWKS; TB spec 4.2.1: a JWK that cannot be used is ignored, the other keys kept',
    make: async () => withKey(await rsaWithX5c(false)),
  },
  {
    name: 'a JWK whose x5c is not base64 DER (ignored)',
    ignoredKid: 'x5c',
    goSpiffeDiffers: 'go-jose refuses the whole JWKS; TB spec 4.2.1: ignore the JWK',
    make: async () => withKey({ ...jwk(rsa), kid: 'x5c', x5c: ['not base64!'] }),
  },
  {
    name: 'a JWK whose x5t#S256 is not its x5c certificate (ignored)',
    ignoredKid: 'x5c',
    goSpiffeDiffers: 'go-jose refuses the whole JWKS; TB spec 4.2.1: ignore the JWK',
    make: async () => withKey(await rsaWithX5c(true, () => ({ 'x5t#S256': b64(createHash('sha256').update('other').digest()) }))),
  },
  {
    name: 'an RSA JWK whose public exponent does not fit 31 bits (ignored)',
    ignoredKid: 'big-e',
    goSpiffeDiffers: "go-jose loads it and Go's crypto/rsa refuses it at verify time (public exponent too large); we leave it out at once",
    make: async () => withKey({ ...jwk(rsa), kid: 'big-e', e: b64(Buffer.from('80000001', 'hex')) }),
  },
  // JWK members are unpadded base64url (RFC 7518 2, 6.2.1.2: an EC coordinate is the curve's full size); Node's decoder skips what is not.
  {
    name: 'a JWK whose x holds characters outside base64url (ignored)',
    ignoredKid: 'bad',
    goSpiffeDiffers: 'go-jose refuses the whole JWKS; TB spec 4.2.1: ignore the JWK',
    make: async () => withKey(badly((k) => ({ x: `!!${k.x}` }))),
  },
  {
    name: 'a JWK whose y is padded standard base64 (ignored)',
    ignoredKid: 'bad',
    goSpiffeDiffers: 'go-jose refuses the whole JWKS; TB spec 4.2.1: ignore the JWK',
    make: async () => withKey(badly((k) => ({ y: Buffer.from(k.y!, 'base64url').toString('base64') }))),
  },
  {
    name: 'a JWK whose x has a leading zero byte, 33 bytes on P-256 (ignored)',
    ignoredKid: 'bad',
    goSpiffeDiffers: 'go-jose refuses the whole JWKS; TB spec 4.2.1: ignore the JWK',
    make: async () => withKey(badly((k) => ({ x: Buffer.concat([Buffer.alloc(1), Buffer.from(k.x!, 'base64url')]).toString('base64url') }))),
  },
  // Base64urlUInt asks for the fewest octets, but the value is unambiguous and libraries are known to add a zero (RFC 7518 6.3.1.1).
  {
    name: 'an RSA JWK whose n has a leading zero byte (kept)',
    make: async () => withKey({ ...jwk(rsa), kid: 'n0', n: Buffer.concat([Buffer.alloc(1), Buffer.from(jwk(rsa).n!, 'base64url')]).toString('base64url') }),
  },
  // The JWKS's JSON read one way only: a JWK with a member twice is ignored, the document's own members twice refuse it.
  {
    name: 'a JWK with "x" twice, the second of another point (ignored)',
    ignoredKid: 'bad',
    goSpiffeDiffers: 'go-jose refuses the whole JWKS; TB spec 4.2.1: ignore the JWK',
    make: async () => {
      const bad = JSON.stringify(jwk(testKey('ES256', { kid: 'bad' })));
      return { token: token('ES256', ec), jwks: `{"keys":[${bad.replace('"x":', `"x":"${jwk(ec).x}","x":`)},${JSON.stringify(jwk(ec))}]}` };
    },
  },
  {
    name: 'a JWKS with "keys" twice',
    bundleRefused: /is ambiguous JSON: it has the member "keys" twice/,
    goSpiffeDiffers: 'go-spiffe reads the JWKS document with encoding/json, which keeps the last "keys"; other parsers keep the first (RFC 8259 4: the behaviour is unpredictable)',
    make: async () => ({ token: token('ES256', ec), jwks: `{"keys":[],"keys":[${JSON.stringify(jwk(ec))}]}` }),
  },
  // Keys that load but that no JWT-SVID algorithm uses (JWT-SVID spec 3: RS, PS, ES on P-256/384/521): go-jose refuses a JWKS with most of them, so a bundle we write with them could not be read by Go workloads.
  ...(
    [
      ['an EC key on secp256k1', 'ec', { namedCurve: 'secp256k1' }, 'go-jose refuses the whole JWKS (unsupported elliptic curve); TB spec 4.2.1: ignore the JWK'],
      ['an X25519 key', 'x25519', {}, 'go-jose refuses the whole JWKS (unsupported key type); TB spec 4.2.1: ignore the JWK'],
      ['an Ed448 key', 'ed448', {}, 'go-jose refuses the whole JWKS (unsupported key type); TB spec 4.2.1: ignore the JWK'],
      ['an Ed25519 key', 'ed25519', {}, 'go-jose keeps it; no JWT-SVID algorithm uses it (EdDSA is not one), so it is left out'],
    ] as const
  ).map(
    ([what, type, options, why]): JwtCase => ({
      name: `${what}, which no JWT-SVID algorithm uses (ignored)`,
      ignoredKid: 'bad',
      goSpiffeDiffers: why,
      make: async () => withKey({ ...generateKeyPairSync(type as 'ec', options as { namedCurve: string }).publicKey.export({ format: 'jwk' }), kid: 'bad' }),
    }),
  ),
];
