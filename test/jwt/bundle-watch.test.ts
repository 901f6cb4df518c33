import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JwtBundleWatch } from '../../src/jwt/bundle-watch.js';
import type { Logger } from '../../src/log.js';
import type { WatchOptions, WorkloadClient } from '../../src/workload/client.js';
import { jwk, testKey } from '../helpers/jwt.js';

const good = testKey('ES256', { kid: 'good' });
const akp = { kty: 'AKP', alg: 'ML-DSA-44', pub: 'AAAA', kid: 'pq', use: 'jwt-svid' };
const doc = (...keys: unknown[]) => Buffer.from(JSON.stringify({ keys }));

/** Streams these FetchJWTBundles messages (the agent re-sends its state), then ends. A real agent cannot send an AKP key today. */
function streaming(messages: Record<string, Buffer>[]): WorkloadClient {
  return {
    async watch(w: WatchOptions<'FetchJWTBundles'>) {
      for (const bundles of messages) await w.onMessage({ bundles });
    },
  } as unknown as WorkloadClient;
}

test('a JWT bundle with a key of unknown kty: the set is used, the key ignored and logged once per change, not per message', async () => {
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, error() {}, warn: (msg: string, f?: Record<string, unknown>) => warnings.push(`${msg} ${String(f?.key)}`) } as Logger;
  const sets: number[] = [];
  const watch = new JwtBundleWatch(async (set) => void sets.push(set.get('example.org')!.keys.size), log);
  const withAkp = { 'spiffe://example.org': doc(akp, jwk(good)) };
  const clean = { 'spiffe://example.org': doc(jwk(good)) };
  await watch.run(streaming([withAkp, withAkp, withAkp, clean, withAkp]), new AbortController().signal).catch(() => undefined);
  assert.deepEqual(sets, [1, 1, 1, 1, 1], 'every message applied, with the good key');
  assert.equal(warnings.length, 2, `once when it appears, once when it comes back: ${warnings.join('; ')}`);
  assert.match(warnings[0]!, /jwt bundle key ignored; the other keys are used example\.org: key 1 "pq": kty "AKP"/);
});

// The agent chooses the kid, kty and alg an ignored key's log line quotes: they are cut as the
// JWT-SVID refusals cut what a token holds, so that a line never carries a token or a megabyte.
const token = `eyJhbGciOiJFUzI1NiJ9.${'A'.repeat(200)}.${'B'.repeat(86)}`;
const quotedCases: [name: string, key: unknown, line: RegExp][] = [
  ['another token as the kid of an ignored key', { ...akp, kid: token }, /key 1 "eyJhbGciOiJFUzI1NiJ9\.A{11}…": kty "AKP"/],
  ['a 100,000-character kid', { ...akp, kid: 'k'.repeat(100_000) }, /key 1 "k{32}…": kty "AKP"/],
  ['a 100,000-character kty', { ...akp, kty: 't'.repeat(100_000) }, /key 1 "pq": kty "t{32}…" is not a key type/],
  ['a 100,000-character alg', { ...jwk(testKey('ES256', { kid: 'a' })), alg: 'a'.repeat(100_000) }, /key 1 "a": alg "a{32}…" is not a JWT-SVID algorithm/],
  [
    'a 100,000-character kid on a key that does not fit its alg',
    { ...jwk(testKey('ES256', { kid: 'm'.repeat(100_000) })), alg: 'RS256' },
    /key 1 "m{32}…": alg RS256 needs an RSA key, but key "m{32}…" is an EC prime256v1 key/,
  ],
];
for (const [name, key, line] of quotedCases) {
  test(`the ignored-key log line quotes the agent's values cut short: ${name}`, async () => {
    const warnings: string[] = [];
    const log = { debug() {}, info() {}, error() {}, warn: (msg: string, f?: Record<string, unknown>) => warnings.push(`${msg} ${String(f?.key)}`) } as Logger;
    const watch = new JwtBundleWatch(async () => undefined, log);
    await watch.run(streaming([{ 'spiffe://example.org': doc(key, jwk(good)) }]), new AbortController().signal).catch(() => undefined);
    assert.equal(warnings.length, 1, warnings.join('; '));
    assert.match(warnings[0]!, line);
    assert.ok(warnings[0]!.length < 300, `${warnings[0]!.length} characters`);
    assert.ok(!warnings[0]!.includes(token.slice(0, 60)), 'no token in the line');
  });
}
