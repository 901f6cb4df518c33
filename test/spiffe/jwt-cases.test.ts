/**
 * The named JWT-SVID and JWKS cases of test/helpers/jwt-cases.ts against our parser; the same
 * table runs against go-spiffe in test/interop/interop.test.ts.
 */
import assert from 'node:assert/strict';
import { type JsonWebKey, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { parseJwtBundleFile } from '../../src/spiffe/jwt-bundle-file.js';
import { parseJwtBundle } from '../../src/spiffe/jwtbundle.js';
import { parseAndValidateJwtSvid } from '../../src/spiffe/jwtsvid.js';
import { CASE_AUDIENCE, CASE_TD, jwtCases } from '../helpers/jwt-cases.js';
import { jwk, testKey, token } from '../helpers/jwt.js';

const td = TrustDomain.parse(CASE_TD);

for (const c of jwtCases) {
  test(`jwt case ${c.refused || c.bundleRefused ? 'refused' : 'accepted'}: ${c.name}`, async () => {
    const { token, jwks } = await c.make();
    if (c.bundleRefused) {
      assert.throws(
        () => parseJwtBundle(td, jwks),
        (e: unknown) => isHelperError(e, 'jwtbundle') && c.bundleRefused!.test(e.message),
      );
      return;
    }
    const bundle = parseJwtBundle(td, jwks);
    if (c.ignoredKid) {
      assert.equal(bundle.keys.has(c.ignoredKid), false, `${c.ignoredKid} is left out`);
      assert.equal(bundle.ignored.length, 1, bundle.ignored.join('; '));
      assert.match(bundle.ignored[0]!, new RegExp(`"${c.ignoredKid}"`));
    } else assert.deepEqual(bundle.ignored, []);
    const run = () => parseAndValidateJwtSvid(token, { audience: CASE_AUDIENCE, bundles: new Map([[CASE_TD, bundle]]) });
    if (!c.refused) {
      assert.equal(run().id.trustDomain.name, CASE_TD);
      return;
    }
    assert.throws(run, (e: unknown) => {
      assert.ok(isHelperError(e, 'jwtsvid'), String(e));
      assert.match(e.message, c.refused!);
      assert.ok(!e.message.includes(token.slice(token.lastIndexOf('.') + 1)), 'the signature never appears in the message');
      return true;
    });
  });
}

// Without a kid every fitting key is tried: a bundle of big RSA keys (a 16384-bit check costs
// ~1.2 ms, 4,096 of them ~5 s) must not let one token hold the event loop.
test('a token without kid tries the keys of its trust domain up to a bound of work, then says so', () => {
  const fake = (i: number) => {
    const n = randomBytes(2048);
    n[0]! |= 0x80;
    n[n.length - 1]! |= 1;
    return { kty: 'RSA', kid: `big-${i}`, n: n.toString('base64url'), e: 'AQAB' };
  };
  const good = testKey('RS256', { kid: 'good' });
  const bundleOf = (keys: unknown[]) => new Map([[CASE_TD, parseJwtBundle(td, JSON.stringify({ keys }))]]);
  const bigSignature = (t: string) => `${t.slice(0, t.lastIndexOf('.'))}.${randomBytes(2048).toString('base64url')}`;
  const kidless = token('RS256', good, { header: { kid: undefined } });
  const many = bundleOf(Array.from({ length: 64 }, (_, i) => fake(i)));
  assert.throws(
    () => parseAndValidateJwtSvid(bigSignature(kidless), { audience: 'api', bundles: many }),
    /names no key \("kid"\); its trust domain "example.org" has more RS256 keys of its signature's size than are tried without one/,
  );
  // Keys of another size than the signature's are not tried, and cost nothing.
  const mixed = bundleOf([...Array.from({ length: 64 }, (_, i) => fake(i)), jwk(good)]);
  assert.equal(parseAndValidateJwtSvid(kidless, { audience: 'api', bundles: mixed }).id.toString(), 'spiffe://example.org/workload');
});

test('jwt bundle file: a trust domain named "__proto__" is read like any other, not dropped as an object prototype', () => {
  const b64 = Buffer.from(JSON.stringify({ keys: [jwk(testKey('ES256', { kid: 'k' }))] })).toString('base64');
  const set = parseJwtBundleFile(`{"example.org": "${b64}", "__proto__": "${b64}"}`, 'bundle.json', undefined);
  assert.deepEqual([...set.keys()].sort(), ['__proto__', 'example.org']);
});

// What a refusal quotes from the token is the attacker's choice: it is cut short, so that a log line
// stays a line and never carries a token placed in a claim (a JWT is longer than what is quoted).
const other = token('ES256', testKey('ES256', { kid: 'other' }));
const long = 'x'.repeat(100_000);
const quoted: [name: string, header: Record<string, unknown>, claims: Record<string, unknown>, refused: RegExp][] = [
  ['another token as the only audience', {}, { aud: [other] }, /audience "api" is not in the "aud" claim \["eyJ/],
  ['100,000 audiences', {}, { aud: Array.from({ length: 100_000 }, (_, i) => `a${i}`) }, /audience "api" is not in the "aud" claim \["a0","a1","a2","a3",… 99996 more\]/],
  ['another token as the kid', { kid: other }, {}, /key "eyJ.*…" is not in the JWT bundle/],
  ['another token as the sub', {}, { sub: other }, /the "sub" claim is not a SPIFFE ID: "eyJ.*…" is not a SPIFFE ID: scheme must be/],
  ['a 100,000-character alg', { alg: long }, {}, /header alg "x+…" is not allowed/],
  ['a 100,000-character typ', { typ: long }, {}, /header typ "x+…" must be/],
  ['a 100,000-character b64', { b64: long }, {}, /header b64 "x+…"/],
];
for (const [name, header, claims, refused] of quoted) {
  test(`a refusal quotes the token's values cut short: ${name}`, () => {
    const k = testKey('ES256', { kid: 'k' });
    const t = token('ES256', k, { header, claims });
    assert.throws(
      () => parseAndValidateJwtSvid(t, { audience: 'api', bundles: new Map([[CASE_TD, parseJwtBundle(td, JSON.stringify({ keys: [jwk(k)] }))]]) }),
      (e: unknown) => {
        assert.ok(isHelperError(e, 'jwtsvid'), String(e));
        assert.match(e.message, refused);
        assert.ok(e.message.length < 400, `${e.message.length} characters`);
        assert.ok(!e.message.includes(other.slice(0, 100)), 'no token in the message');
        return true;
      },
    );
  });
}

// The kid the token names is also the agent's (it matched a bundle key): a refusal naming that
// key quotes it cut short too.
const longKid = 'K'.repeat(2000);
const bundleKidCases: [name: string, bundleKey: () => JsonWebKey, alg: string, signer: () => ReturnType<typeof testKey>, refused: RegExp][] = [
  [
    'the signature does not verify with a 2,000-character kid',
    () => jwk(testKey('ES256', { kid: longKid })),
    'ES256',
    () => testKey('ES256', { kid: longKid, fresh: true }),
    /signature does not verify with key "K{32}…" of trust domain/,
  ],
  [
    'a 2,000-character kid whose JWK alg is another one',
    () => ({ ...jwk(testKey('RS256', { kid: longKid })), alg: 'RS256' }),
    'PS256',
    () => testKey('RS256', { kid: longKid }),
    /key "K{32}…" is for alg RS256, the token says PS256/,
  ],
];
for (const [name, bundleKey, alg, signer, refused] of bundleKidCases) {
  test(`a refusal quotes the bundle's kid cut short: ${name}`, () => {
    const bundle = parseJwtBundle(td, JSON.stringify({ keys: [bundleKey()] }));
    assert.throws(
      () => parseAndValidateJwtSvid(token(alg, signer()), { audience: 'api', bundles: new Map([[CASE_TD, bundle]]) }),
      (e: unknown) => {
        assert.ok(isHelperError(e, 'jwtsvid'), String(e));
        assert.match(e.message, refused);
        assert.ok(e.message.length < 400, `${e.message.length} characters`);
        return true;
      },
    );
  });
}
