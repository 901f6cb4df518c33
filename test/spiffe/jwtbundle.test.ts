import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { jwtBundleToJwks, parseJwtBundle, parseJwtBundleSet } from '../../src/spiffe/jwtbundle.js';
import { jwk, jwks, testKey } from '../helpers/jwt.js';

const td = TrustDomain.parse('example.org');
const ec = testKey('ES256', { kid: 'b-ec' });
const rsa = testKey('RS256', { kid: 'a-rsa' });
const doc = (...keys: unknown[]) => JSON.stringify({ keys });

test('a JWKS with EC and RSA keys becomes a bundle keyed by kid', () => {
  const b = parseJwtBundle(td, Buffer.from(jwks(ec, rsa)));
  assert.equal(b.trustDomain.name, 'example.org');
  assert.deepEqual([...b.keys.keys()].sort(), ['a-rsa', 'b-ec']);
  assert.equal(b.keys.get('b-ec')!.asymmetricKeyType, 'ec');
  assert.equal(b.keys.get('a-rsa')!.asymmetricKeyType, 'rsa');
});

test('keys for other uses are ignored; use "jwt-svid", "sig" or none are kept', () => {
  const x509Key = { ...jwk(testKey('ES256'), { use: 'x509-svid' }), kid: undefined, x5c: ['MIIB'] };
  const b = parseJwtBundle(td, doc(x509Key, jwk(ec, { use: 'sig' }), jwk(rsa, {}), { ...jwk(testKey('ES256', { kid: 'enc' })), use: 'enc' }));
  assert.deepEqual([...b.keys.keys()].sort(), ['a-rsa', 'b-ec']);
});

test('an empty key list is a valid (if useless) bundle', () => {
  assert.equal(parseJwtBundle(td, doc()).keys.size, 0);
});

type Case = [name: string, content: string, message: RegExp];
const cases: Case[] = [
  ['not JSON', '{keys', /bundle of trust domain "example.org": is not JSON/],
  ['no keys array', '{"keys": {}}', /is not a JWKS document: it needs a "keys" array/],
  ['a JSON array', '[]', /is not a JWKS document/],
  ['a key that is not an object', doc('k'), /key 1 is not a JSON object/],
  // Rejected rather than skipped: tokens name keys by kid, so this is an agent bug to surface.
  ['a key without kid', doc(jwk(ec), { ...jwk(rsa), kid: undefined }), /key 2 has no "kid"; a JWT authority must have a key ID/],
  ['an empty kid', doc({ ...jwk(ec), kid: '' }), /key 1 has no "kid"/],
  ['a kid twice', doc(jwk(ec), { ...jwk(rsa), kid: 'b-ec' }), /key ID "b-ec" appears twice/],
  ['a symmetric key', doc({ kty: 'oct', k: 'c2VjcmV0', kid: 's' }), /key "s": "kty" must be EC, RSA or OKP, got "oct"/],
  ['a private key', doc({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'p' }), /key "p" holds private key material/],
  ['a point not on the curve', doc({ ...jwk(ec), x: jwk(rsa).n }), /key "b-ec" cannot be loaded/],
];
for (const [name, content, message] of cases) {
  test(`rejects a bundle with ${name}`, () => {
    assert.throws(() => parseJwtBundle(td, content), (e: unknown) => isHelperError(e, 'jwtbundle') && message.test(e.message) && e.message.startsWith('jwtbundle: '));
  });
}

test('a bundle set is keyed by trust domain name, from IDs or bare names', () => {
  const set = parseJwtBundleSet({ 'spiffe://example.org': Buffer.from(jwks(ec)), 'partner.org': jwks(rsa) });
  assert.deepEqual([...set.keys()].sort(), ['example.org', 'partner.org']);
  assert.equal(set.get('partner.org')!.trustDomain.name, 'partner.org');
  assert.ok(parseJwtBundleSet(new Map([['spiffe://example.org', jwks(ec)]])).has('example.org'));
});

const setCases: [string, Record<string, string>, RegExp][] = [
  ['no bundles', {}, /the response holds no bundles/],
  ['a key that is not a trust domain', { 'spiffe://Example.org': jwks(ec) }, /bundle key "spiffe:\/\/Example.org" is not a trust domain/],
  ['one trust domain twice', { 'spiffe://example.org': jwks(ec), 'example.org': jwks(ec) }, /trust domain "example.org" has two bundles/],
  ['one bad bundle among good ones', { 'spiffe://example.org': jwks(ec), 'spiffe://partner.org': '{' }, /bundle of trust domain "partner.org": is not JSON/],
];
for (const [name, bundles, message] of setCases) {
  test(`rejects a bundle set with ${name}`, () => {
    assert.throws(() => parseJwtBundleSet(bundles), (e: unknown) => isHelperError(e, 'jwtbundle') && message.test(e.message));
  });
}

test('jwtBundleToJwks: public keys only, sorted by kid, no "use" (jose skips keys whose use is not "sig")', () => {
  const out = jwtBundleToJwks(parseJwtBundle(td, jwks(ec, rsa)));
  assert.deepEqual(out.keys.map((k) => k.kid), ['a-rsa', 'b-ec']);
  for (const k of out.keys) {
    assert.equal(k.use, undefined);
    assert.equal(k.d, undefined);
  }
  assert.deepEqual(out.keys[1], { kid: 'b-ec', ...ec.publicKey.export({ format: 'jwk' }) });
  const again = parseJwtBundle(td, JSON.stringify(out));
  assert.deepEqual(jwtBundleToJwks(again), out, 'a written bundle reads back the same');
});
