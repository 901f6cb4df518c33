/**
 * Second-round probes of JWT-SVID and JWKS validation (issue 12 items 2 and 3): inputs the
 * first tables did not hold. Each case says what must happen and why (RFC 7515/7517/7518/7519,
 * the JWT-SVID spec, go-spiffe/go-jose where they decide).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHelperError } from '../../src/errors.js';
import type { InspectReport } from '../../src/inspect/document.js';
import { inspectJwtSvid } from '../../src/inspect/jwt.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { parseJwtBundleFile } from '../../src/spiffe/jwt-bundle-file.js';
import { jwtBundleToJwks, parseJwtBundle, type JwtBundleSet } from '../../src/spiffe/jwtbundle.js';
import { parseAndValidateJwtSvid } from '../../src/spiffe/jwtsvid.js';
import { bundleSet, jwk, jwks, testKey, token, type TestKey } from '../helpers/jwt.js';
import { tempDir } from '../helpers/tmp.js';

const td = TrustDomain.parse('example.org');
const key = testKey('ES256', { kid: 'k' });
const bundles = bundleSet({ 'example.org': [key] });
const now = () => Math.floor(Date.now() / 1000);
const es = (parts: Parameters<typeof token>[2]) => token('ES256', key, parts);
const [h, p, s] = es({}).split('.') as [string, string, string];

/** A bundle of one JWK (with extra members), as the agent would send it. */
const oneKey = (k: TestKey, extra: Record<string, unknown>): JwtBundleSet => new Map([['example.org', parseJwtBundle(td, JSON.stringify({ keys: [jwk(k, { use: 'jwt-svid', ...extra })] }))]]);
const rsaKey = (bits: number, kid: string): TestKey => ({ kid, ...generateKeyPairSync('rsa', { modulusLength: bits }) });
const rsa1024 = rsaKey(1024, 'small');
const rsa = testKey('RS256', { kid: 'rsa' });

/** Flips the unused low bits of a segment's last character: the same bytes, another spelling. */
function respell(segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bytes = Buffer.from(segment, 'base64url');
  for (const c of alphabet) {
    const other = segment.slice(0, -1) + c;
    if (other !== segment && Buffer.from(other, 'base64url').equals(bytes)) return other;
  }
  throw new Error('this segment has no spare bits');
}
/** One character more than any base64url string of that length can have: Node drops it. */
const dangling = (segment: string): string => segment.padEnd(segment.length + ((5 - (segment.length % 4)) % 4 || 4), 'A');

type Case = [name: string, make: () => string, refused: RegExp | undefined, bundles?: JwtBundleSet];
const cases: Case[] = [
  // NumericDate (RFC 7519 2): a number of seconds a date can hold; anything else is no date at all.
  ['exp beyond any date (1e300)', () => es({ claims: { exp: 1e300 } }), /the "exp" claim is not a date/],
  ['exp just beyond the last date JavaScript can hold', () => es({ claims: { exp: 8.64e12 + 1 } }), /the "exp" claim is not a date/],
  ['exp an integer beyond 2^53', () => es({ claims: { exp: 2 ** 53 + 2 } }), /the "exp" claim is not a date/],
  ['nbf beyond any date', () => es({ claims: { nbf: 1e300 } }), /the "nbf" claim is not a date/],
  ['iat beyond any date', () => es({ claims: { iat: 1e300 } }), /the "iat" claim is not a date/],
  ['exp with a fraction of a second', () => es({ claims: { exp: now() + 300.5 } }), undefined],
  // go-jose (go-spiffe) refuses a token issued in the future; the nbf allowance applies.
  ['iat an hour ahead', () => es({ claims: { iat: now() + 3600 } }), /token was issued in the future \(iat /],
  ['iat 30 s ahead (within the clock-skew allowance)', () => es({ claims: { iat: now() + 30 } }), undefined],
  // A trust domain ID names no workload (test vectors: "not allowed as an SVID's ID").
  ['sub a trust domain ID without path', () => es({ claims: { sub: 'spiffe://example.org' } }), /the "sub" claim .*has no path/],
  // A segment has one base64url spelling: another one is a different token, not this one.
  ['signature with spare bits set', () => `${h}.${p}.${respell(s)}`, /token signature is not canonical base64url/],
  ['signature with a dangling character', () => `${h}.${p}.${dangling(s)}`, /token signature is not canonical base64url/],
  ['header with a dangling character', () => `${dangling(h)}.${p}.${s}`, /token header is not canonical base64url/],
  // JWK "alg" (RFC 7517 4.4, RFC 8725 3.1): a key is used with its one algorithm only.
  ['token alg RS256, its JWK says PS256', () => token('RS256', rsa), /key "rsa" is for alg PS256, the token says RS256/, oneKey(rsa, { alg: 'PS256' })],
  ['token alg ES256, its JWK says ES256', () => es({}), undefined, oneKey(key, { alg: 'ES256' })],
  ['no kid, the only key is for another alg', () => token('RS256', rsa, { header: { kid: undefined } }), /no key of trust domain "example.org" fits alg RS256/, oneKey(rsa, { alg: 'PS256' })],
  // RFC 7518 3.3: RSA keys for RS*/PS* MUST be at least 2048 bits.
  ['RS256 with a 1024-bit key', () => token('RS256', rsa1024), /key "small" is not in the JWT bundle/, oneKey(rsa1024, {})],
];

for (const [name, make, refused, b] of cases) {
  test(`jwt-svid probe ${refused ? 'refused' : 'accepted'}: ${name}`, () => {
    const t = make();
    const run = () => parseAndValidateJwtSvid(t, { audience: 'api', bundles: b ?? bundles });
    if (!refused) {
      const svid = run();
      assert.ok(Number.isFinite(svid.expiry.getTime()));
      return;
    }
    assert.throws(run, (e: unknown) => {
      assert.ok(isHelperError(e, 'jwtsvid'), String(e));
      assert.match(e.message, refused);
      return true;
    });
  });
}

type KeyCase = [name: string, member: Record<string, unknown>, k: TestKey, ignored: RegExp | null];
const keyCases: KeyCase[] = [
  ['an RSA key of 1024 bits', {}, rsa1024, /RSA key of 1024 bits; RS\/PS keys must have at least 2048 \(RFC 7518 3\.3\)/],
  ['an RSA key with public exponent 1', { e: 'AQ' }, testKey('RS256', { kid: 'e1' }), /public exponent 1/],
  ['an alg that is not a JWT-SVID algorithm', { alg: 'HS256' }, testKey('ES256', { kid: 'hs' }), /alg "HS256" is not a JWT-SVID algorithm/],
  ['an alg its key cannot make (ES384 on P-256)', { alg: 'ES384' }, testKey('ES256', { kid: 'mis' }), /alg ES384 needs an EC P-384 key/],
  ['key_ops without "verify"', { key_ops: ['encrypt'] }, testKey('ES256', { kid: 'ops' }), null],
  // OpenSSL (OPENSSL_RSA_MAX_MODULUS_BITS) verifies nothing with a larger modulus: every token would fail as "does not verify".
  [
    'an RSA key of 16385 bits',
    { n: Buffer.concat([Buffer.from([1]), randomBytes(2047), Buffer.from([0xff])]).toString('base64url') },
    testKey('RS256', { kid: 'huge' }),
    /RSA key of 16385 bits; OpenSSL verifies with at most 16384/,
  ],
];
for (const [name, member, k, ignored] of keyCases) {
  test(`jwks probe: ${name} is ignored, the other keys kept`, () => {
    const b = parseJwtBundle(td, JSON.stringify({ keys: [{ ...jwk(k), ...member }, jwk(key)] }));
    assert.deepEqual([...b.keys.keys()], ['k']);
    if (ignored === null) assert.deepEqual(b.ignored, [], 'a key for other operations is not worth a log line');
    else {
      assert.equal(b.ignored.length, 1);
      assert.match(b.ignored[0]!, ignored);
    }
  });
}

test('jwks probe: key_ops with "verify" and an alg that fits are kept, and the alg is written back out', () => {
  const b = parseJwtBundle(td, JSON.stringify({ keys: [jwk(key, { use: 'jwt-svid', alg: 'ES256', key_ops: ['verify'] })] }));
  assert.deepEqual([...b.keys.keys()], ['k']);
  const out = jwtBundleToJwks(b);
  assert.equal(out.keys[0]!.alg, 'ES256');
  assert.deepEqual(jwtBundleToJwks(parseJwtBundle(td, JSON.stringify(out))), out);
});

test('inspect shows a token whose iat and exp are beyond any date as such, and the same refusal, instead of crashing', async () => {
  const file = join(tempDir(), 'jwt.token');
  writeFileSync(file, es({ claims: { iat: 1e300, exp: 1e300 } }));
  const report = { ok: true, problems: [], warnings: [], bundles: [], jwt_svids: [], jwt_bundles: [] } as unknown as InspectReport;
  const out = await inspectJwtSvid({ file, audience: 'api' }, bundles, report, new Date());
  assert.equal(out.issued_at, undefined);
  assert.equal(out.expiry, undefined);
  assert.ok(
    report.problems.some((m) => m.includes('the token has no "exp" claim that is a date')),
    JSON.stringify(report.problems),
  );
  assert.match(out.signature, /the "exp" claim is not a date/);
});

test('jwt bundle file probe: a Go-layout file whose trust domain is named "keys" is read as that layout, not as a plain JWKS', () => {
  const set = parseJwtBundleFile(JSON.stringify({ keys: Buffer.from(jwks(key)).toString('base64') }), 'bundle.json', undefined);
  assert.deepEqual([...set.keys()], ['keys']);
  assert.deepEqual([...set.get('keys')!.keys.keys()], ['k']);
});
