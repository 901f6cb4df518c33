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

test('keys for other uses are ignored silently; use "jwt-svid" or none are kept', () => {
  const x509Key = { ...jwk(testKey('ES256'), { use: 'x509-svid' }), kid: undefined, x5c: ['MIIB'] };
  const sig = jwk(testKey('ES256', { kid: 'sig' }), { use: 'sig' });
  const b = parseJwtBundle(td, doc(x509Key, jwk(ec, { use: 'jwt-svid' }), jwk(rsa, {}), sig, { ...jwk(testKey('ES256', { kid: 'enc' })), use: 'enc' }));
  assert.deepEqual([...b.keys.keys()].sort(), ['a-rsa', 'b-ec']);
  assert.deepEqual(b.ignored, [], 'a key for another use is not an error worth a log line');
});

test('an empty key list is a valid (if useless) bundle', () => {
  assert.equal(parseJwtBundle(td, doc()).keys.size, 0);
});

// TB spec 4.2.1: a JWK that cannot be used is ignored; the other keys keep working.
type Ignored = [name: string, bad: unknown, why: RegExp];
const ignoredCases: Ignored[] = [
  ['a key of unknown kty (AKP, post-quantum)', { kty: 'AKP', alg: 'ML-DSA-44', pub: 'AAAA', kid: 'pq', use: 'jwt-svid' }, /key 1 "pq": kty "AKP" is not a key type for JWT-SVIDs/],
  ['a key without kty', { kid: 'nokty', use: 'jwt-svid', x: 'AA' }, /key 1 "nokty": kty undefined is not a key type/],
  ['a symmetric key', { kty: 'oct', k: 'c2VjcmV0', kid: 's' }, /key 1 "s": kty "oct" is not a key type/],
  ['a key that is not an object', 'k', /key 1: not a JSON object/],
  ['a key without kid', { ...jwk(rsa), kid: undefined }, /key 1: no "kid"; a JWT authority must have a key ID/],
  ['an empty kid', { ...jwk(rsa), kid: '' }, /key 1: no "kid"/],
  ['a kid twice (the first keeps it)', { ...jwk(rsa), kid: 'b-ec' }, /key 1 "b-ec": its key ID appears twice/],
  ['a private key', { ...ec.privateKey.export({ format: 'jwk' }), kid: 'p' }, /key 1 "p": holds private key material/],
  ['a point not on the curve', { ...jwk(testKey('ES256', { kid: 'off' })), x: jwk(rsa).n }, /key 1 "off": cannot be loaded/],
  ['an EC key on an unknown curve', { ...jwk(testKey('ES256', { kid: 'curve' })), crv: 'P-192' }, /key 1 "curve": cannot be loaded/],
  ['an RSA key without its modulus', { ...jwk(testKey('RS256', { kid: 'non' })), n: undefined }, /key 1 "non": cannot be loaded/],
  ['an OKP key of an unknown curve', { kty: 'OKP', crv: 'X9999', x: 'AAAA', kid: 'okp' }, /key 1 "okp": cannot be loaded/],
];
for (const [name, bad, why] of ignoredCases) {
  test(`a bundle with ${name} keeps its other keys, the bad one ignored and said why`, () => {
    // The bad key first: a kid it shares with a good one (the duplicate case) is then the good one's.
    const dup = name.startsWith('a kid twice');
    const b = parseJwtBundle(td, dup ? doc(jwk(ec), bad) : doc(bad, jwk(ec)));
    assert.deepEqual([...b.keys.keys()], ['b-ec']);
    assert.equal(b.ignored.length, 1);
    assert.match(b.ignored[0]!.replace('key 2', 'key 1'), why);
  });
}

type Case = [name: string, content: string, message: RegExp];
const cases: Case[] = [
  ['not JSON', '{keys', /bundle of trust domain "example.org": is not JSON/],
  ['no keys array', '{"keys": {}}', /is not a JWKS document: it needs a "keys" array/],
  ['a JSON array', '[]', /is not a JWKS document/],
];
for (const [name, content, message] of cases) {
  test(`rejects a bundle with ${name}`, () => {
    assert.throws(
      () => parseJwtBundle(td, content),
      (e: unknown) => isHelperError(e, 'jwtbundle') && message.test(e.message) && e.message.startsWith('jwtbundle: '),
    );
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
    assert.throws(
      () => parseJwtBundleSet(bundles),
      (e: unknown) => isHelperError(e, 'jwtbundle') && message.test(e.message),
    );
  });
}

test('rejects a bundle set whose 2,000-character bundle key is not a trust domain, quoting the key cut short', () => {
  const key = `spiffe://${'X'.repeat(2000)}`;
  assert.throws(
    () => parseJwtBundleSet({ [key]: jwks(ec) }),
    (e: unknown) =>
      isHelperError(e, 'jwtbundle') && /^jwtbundle: bundle key "spiffe:\/\/X{23}…" is not a trust domain: "spiffe:\/\/X{23}…": trust domain may hold only/.test(e.message) && e.message.length < 400,
  );
});

// As a token that is not UTF-8 is refused (strict-json.ts): decoded leniently, the bad bytes would
// become U+FFFD, one reading of bytes that other readers (go-jose) refuse. Like any other bundle
// that cannot be read, it refuses the whole message: the last good set stays in force.
const notUtf8 = (text: string, bad: number[]): Buffer => Buffer.from(text.replace('@@', Buffer.from(bad).toString('latin1')), 'latin1');
const notUtf8Cases: [name: string, jwks: Buffer][] = [
  ['an invalid byte (0xff) in a kid', notUtf8(doc({ ...jwk(ec), kid: 'k@@' }), [0xff])],
  ['a truncated 2-byte sequence in a member name', notUtf8(doc(jwk(rsa)).replace('"kty"', '"k@@"'), [0xc3])],
  ['an overlong encoding of "/" in the document', notUtf8(`${doc(jwk(ec)).slice(0, -1)},"x":"@@"}`, [0xc0, 0xaf])],
  ['a UTF-16 surrogate encoded as UTF-8 (CESU-8)', notUtf8(doc({ ...jwk(ec), kid: '@@' }), [0xed, 0xa0, 0x80])],
];
for (const [name, bytes] of notUtf8Cases) {
  test(`rejects a JWKS that is not UTF-8, naming its trust domain: ${name}`, () => {
    assert.ok(bytes.toString('utf8').includes('\ufffd'), 'the lenient decoding substitutes U+FFFD');
    assert.throws(
      () => parseJwtBundleSet({ 'spiffe://example.org': Buffer.from(jwks(ec)), 'spiffe://partner.org': bytes }),
      (e: unknown) => isHelperError(e, 'jwtbundle') && e.message === 'jwtbundle: bundle of trust domain "partner.org": is not UTF-8',
    );
  });
}

test('jwtBundleToJwks: public keys only, sorted by kid, no "use" (jose skips keys whose use is not "sig")', () => {
  const out = jwtBundleToJwks(parseJwtBundle(td, jwks(ec, rsa)));
  assert.deepEqual(
    out.keys.map((k) => k.kid),
    ['a-rsa', 'b-ec'],
  );
  for (const k of out.keys) {
    assert.equal(k.use, undefined);
    assert.equal(k.d, undefined);
  }
  assert.deepEqual(out.keys[1], { kid: 'b-ec', ...ec.publicKey.export({ format: 'jwk' }) });
  const again = parseJwtBundle(td, JSON.stringify(out));
  assert.deepEqual(jwtBundleToJwks(again), out, 'a written bundle reads back the same');
});
