import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHelperError } from '../../src/errors.js';
import { parseAndValidateJwtSvid } from '../../src/spiffe/jwtsvid.js';
import { bundleSet, testKey, token, type Alg } from '../helpers/jwt.js';

const ID = 'spiffe://example.org/workload';
const now = () => Math.floor(Date.now() / 1000);

const keys = {
  ES256: testKey('ES256'),
  ES384: testKey('ES384'),
  ES512: testKey('ES512'),
  RS: testKey('RS256'),
  other: testKey('ES256'),
  partner: testKey('ES256'),
};
const bundles = bundleSet({ 'example.org': [keys.ES256, keys.ES384, keys.ES512, keys.RS], 'partner.org': [keys.partner], 'rsa.org': [keys.RS] });

for (const alg of ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as Alg[]) {
  test(`a valid ${alg} JWT-SVID parses into its identity, audience and times`, () => {
    const key = alg.startsWith('ES') ? keys[alg as 'ES256'] : keys.RS;
    const t = token(alg, key, { claims: { aud: ['api', 'other'] } });
    const svid = parseAndValidateJwtSvid(t, { audience: 'api', bundles, hint: 'h' });
    assert.equal(svid.id.toString(), ID);
    assert.deepEqual(svid.audience, ['api', 'other']);
    assert.equal(svid.token, t);
    assert.equal(svid.hint, 'h');
    assert.ok(svid.expiry.getTime() > Date.now());
    assert.ok(svid.issuedAt instanceof Date);
  });
}

test("a token of a federated trust domain verifies with that domain's bundle", () => {
  const t = token('ES256', keys.partner, { claims: { sub: 'spiffe://partner.org/svc' } });
  assert.equal(parseAndValidateJwtSvid(t, { audience: 'api', bundles }).id.toString(), 'spiffe://partner.org/svc');
});

test('typ JOSE and a token without typ or iat are accepted', () => {
  for (const header of [{ typ: 'JOSE' }, { typ: undefined }]) {
    const svid = parseAndValidateJwtSvid(token('ES256', keys.ES256, { header, claims: { iat: undefined } }), { audience: 'api', bundles });
    assert.equal(svid.issuedAt, undefined);
  }
});

// JWT-SVID 2.2: kid is optional; the keys of the subject's trust domain that fit alg are tried.
for (const alg of ['ES256', 'ES384', 'RS256', 'PS256'] as Alg[]) {
  test(`a ${alg} JWT-SVID without kid verifies with the fitting key of its trust domain`, () => {
    const key = alg.startsWith('ES') ? keys[alg as 'ES256'] : keys.RS;
    const svid = parseAndValidateJwtSvid(token(alg, key, { header: { kid: undefined } }), { audience: 'api', bundles });
    assert.equal(svid.id.toString(), ID);
  });
}

test('a JWT-SVID without kid does not verify with a key of another trust domain', () => {
  const t = token('ES256', keys.partner, { header: { kid: undefined } });
  assert.throws(() => parseAndValidateJwtSvid(t, { audience: 'api', bundles }), /verifies with none of the 1 ES256 keys of trust domain "example.org"/);
});

type Case = [name: string, make: () => string, message: RegExp, audience?: string];
const es = (parts: Parameters<typeof token>[2]) => token('ES256', keys.ES256, parts);
const good = es({});
const [h, p, s] = good.split('.') as [string, string, string];
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const cases: Case[] = [
  ['alg none', () => token('none', keys.ES256), /alg "none" \(an unsigned token\) is never accepted/],
  ['alg HS256 keyed with the public key', () => token('HS256', keys.ES256), /header alg "HS256" is not allowed; JWT-SVIDs are signed with one of RS256/],
  ['alg EdDSA', () => token('EdDSA', keys.ES256), /header alg "EdDSA" is not allowed/],
  ['alg missing', () => es({ header: { alg: undefined } }), /header alg undefined is not allowed/],
  ['alg naming an Object.prototype member', () => es({ header: { alg: 'constructor' } }), /header alg "constructor" is not allowed/],
  ['typ wrong', () => es({ header: { typ: 'at+jwt' } }), /header typ "at\+jwt" must be "JWT" or "JOSE" when present/],
  ['crit header', () => es({ header: { crit: ['exp'] } }), /"crit" extensions/],
  ['kid empty', () => es({ header: { kid: '' } }), /header kid must be a non-empty string when present/],
  ['kid not a string', () => es({ header: { kid: 7 } }), /header kid must be a non-empty string when present/],
  [
    'no kid, signed by a key outside the bundle',
    () => token('ES256', keys.other, { header: { kid: undefined } }),
    /names no key \("kid"\) and its signature verifies with none of the 1 ES256 keys of trust domain "example.org"/,
  ],
  [
    'no kid, and no key of the domain fits alg',
    () => token('ES256', keys.partner, { header: { kid: undefined }, claims: { sub: 'spiffe://rsa.org/x' } }),
    /names no key \("kid"\) and no key of trust domain "rsa.org" fits alg ES256/,
  ],
  ['kid unknown', () => es({ header: { kid: 'nope' } }), /key "nope" is not in the JWT bundle of trust domain "example.org"/],
  ['signed by another key under a known kid', () => token('ES256', { ...keys.other, kid: keys.ES256.kid }), /signature does not verify with key "kid-\d+" of trust domain "example.org"/],
  ['payload changed after signing', () => `${h}.${b64({ sub: 'spiffe://example.org/admin', aud: 'api', exp: now() + 300 })}.${s}`, /signature does not verify/],
  ["signed by another domain's key, claiming ours", () => token('ES256', keys.partner), /key "kid-\d+" is not in the JWT bundle of trust domain "example.org"/],
  ['ES384 header on a P-256 key', () => token('ES384', { ...keys.ES256 }), /header alg ES384 needs an EC P-384 key, but key "kid-\d+" is an EC prime256v1 key/],
  ['RS256 header on an EC key', () => token('RS256', keys.ES256), /header alg RS256 needs an RSA key/],
  ['ES256 header on an RSA key', () => token('ES256', keys.RS), /header alg ES256 needs an EC P-256 key, but key "kid-\d+" is a rsa key/],
  ['expired', () => es({ claims: { exp: now() - 1 } }), /token expired at .* \(now /],
  ['exp missing', () => es({ claims: { exp: undefined } }), /the "exp" claim is missing/],
  ['exp not a number', () => es({ claims: { exp: String(now() + 300) } }), /the "exp" claim must be a number/],
  ['not valid yet', () => es({ claims: { nbf: now() + 3600 } }), /token is not valid before/],
  ['wrong audience', () => es({ claims: { aud: 'other' } }), /audience "api" is not in the "aud" claim \["other"\]/],
  ['audience array without ours', () => es({ claims: { aud: ['a', 'b'] } }), /audience "api" is not in the "aud" claim \["a","b"\]/],
  ['aud missing', () => es({ claims: { aud: undefined } }), /the "aud" claim is missing/],
  ['aud of numbers', () => es({ claims: { aud: [1] } }), /"aud" claim must be a string or a non-empty array of strings/],
  ['sub missing', () => es({ claims: { sub: undefined } }), /the "sub" claim is missing/],
  ['sub not a SPIFFE ID', () => es({ claims: { sub: 'https://example.org/x' } }), /the "sub" claim is not a SPIFFE ID: .*scheme must be "spiffe:\/\/"/],
  ['sub with an upper-case trust domain', () => es({ claims: { sub: 'spiffe://Example.org/x' } }), /the "sub" claim is not a SPIFFE ID/],
  [
    'sub of a domain without bundle',
    () => es({ claims: { sub: 'spiffe://nowhere.org/x' } }),
    /no JWT bundle for trust domain "nowhere.org" of spiffe:\/\/nowhere.org\/x \(bundles: "example.org", "partner.org", "rsa.org"\)/,
  ],
  ['two parts', () => `${h}.${p}`, /not a compact JWS: expected three dot-separated parts, got 2/],
  ['four parts', () => `${good}.x`, /got 4/],
  ['empty string', () => '', /got 1/],
  ['header not base64url', () => `${h}!.${p}.${s}`, /token header is empty or not base64url/],
  ['header not JSON', () => `${Buffer.from('{nope').toString('base64url')}.${p}.${s}`, /token header is not base64url-encoded JSON/],
  ['payload a JSON array', () => `${h}.${b64([1])}.${s}`, /token payload is not a JSON object/],
  ['signature empty', () => `${h}.${p}.`, /token signature is empty or not base64url/],
];

for (const [name, make, message, audience] of cases) {
  test(`rejects: ${name}`, () => {
    const t = make();
    assert.throws(
      () => parseAndValidateJwtSvid(t, { audience: audience ?? 'api', bundles }),
      (e: unknown) => {
        assert.ok(isHelperError(e, 'jwtsvid'), String(e));
        assert.match(e.message, message);
        assert.match(e.message, /^jwtsvid: /);
        const secret = t.split('.')[2] ?? '';
        if (secret.length > 8) assert.ok(!e.message.includes(secret), 'the token never appears in the message');
        return true;
      },
    );
  });
}

test('expiry is judged at `now`', () => {
  const t = es({ claims: { exp: now() + 10 } });
  assert.ok(parseAndValidateJwtSvid(t, { audience: 'api', bundles, now: new Date() }));
  assert.throws(() => parseAndValidateJwtSvid(t, { audience: 'api', bundles, now: new Date(Date.now() + 11_000) }), /expired/);
});

test('any input at all is either a JWT-SVID or a jwtsvid error, never a crash', () => {
  const b64url = fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/);
  const input = fc.oneof(
    fc.string(),
    fc.tuple(b64url, b64url, b64url).map((parts) => parts.join('.')),
    fc.tuple(fc.nat(good.length - 1), fc.constantFrom(...'AZaz09_-.')).map(([i, c]) => good.slice(0, i) + c + good.slice(i + 1)),
  );
  fc.assert(
    fc.property(input, (t) => {
      try {
        parseAndValidateJwtSvid(t, { audience: 'api', bundles });
      } catch (e) {
        assert.ok(isHelperError(e, 'jwtsvid'), String(e));
      }
    }),
    { numRuns: 500 },
  );
});
