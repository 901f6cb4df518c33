/**
 * A JWT bundle that stops verifying the token on disk (its key revoked, as SPIRE's
 * `localauthority jwt revoke` does; its trust domain gone) makes the token worthless to every
 * consumer: the helper fetches a new one at once instead of at half the token's lifetime.
 * So does an identity redacted and issued again (the entry replaced): the token may name an
 * identity the agent no longer issues. A bundle change that still verifies it, or a stream that
 * merely broke, refreshes nothing. Real SPIRE: spire-authorities.test.ts, spire-entries.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HelperError } from '../../src/errors.js';
import { HealthState } from '../../src/health/state.js';
import { JwtBundleWatch } from '../../src/jwt/bundle-watch.js';
import { keepJwtSvidFresh } from '../../src/jwt/refresh.js';
import { silentLogger } from '../../src/log.js';
import { JwtWriter } from '../../src/output/jwt-writer.js';
import type { WatchOptions, WorkloadClient } from '../../src/workload/client.js';
import { jwks, testKey, token, type TestKey } from '../helpers/jwt.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const ID = 'spiffe://example.org/workload';
const entry = { audience: 'api', extraAudiences: [], fileName: 'api.jwt' };

const cases: { name: string; next: (old: TestKey, fresh: TestKey) => Record<string, string>; refreshed: boolean; interrupted?: HelperError }[] = [
  { name: 'the key of the token on disk revoked', next: (_old, fresh) => ({ 'spiffe://example.org': jwks(fresh) }), refreshed: true },
  { name: 'the trust domain of the token on disk gone', next: (_old, fresh) => ({ 'spiffe://other.org': jwks(fresh) }), refreshed: true },
  { name: 'its kid now naming another key', next: (old, fresh) => ({ 'spiffe://example.org': jwks(testKey('ES256', { kid: old.kid }), fresh) }), refreshed: true },
  { name: 'a key added beside the one of the token on disk', next: (old, fresh) => ({ 'spiffe://example.org': jwks(old, fresh) }), refreshed: false },
  {
    name: 'the same keys after the identity was redacted (the entry replaced by one with another SPIFFE ID)',
    next: (old, fresh) => ({ 'spiffe://example.org': jwks(old, fresh) }),
    interrupted: new HelperError('unavailable', 'FetchJWTBundles: the agent no longer issues an identity to this workload', { reason: 'identity_redacted' }),
    refreshed: true,
  },
  {
    name: 'the same keys after the stream broke (an agent restart)',
    next: (old, fresh) => ({ 'spiffe://example.org': jwks(old, fresh) }),
    interrupted: new HelperError('unavailable', 'FetchJWTBundles: no agent at socket'),
    refreshed: false,
  },
];

for (const c of cases) {
  test(`a JWT bundle change, ${c.name}: ${c.refreshed ? 'a new token is fetched at once' : 'nothing is fetched before half the lifetime'}`, async () => {
    const old = testKey('ES256');
    const fresh = testKey('ES256');
    // Ten minutes: without the bundle change the next refresh is five minutes away.
    const first = token('ES256', old, { claims: { sub: ID, jti: 'first', exp: Math.floor(Date.now() / 1000) + 600 } });
    const second = token('ES256', fresh, { claims: { sub: ID, jti: 'second', exp: Math.floor(Date.now() / 1000) + 600 } });
    let sendNext!: () => void;
    let secondSetSent = false;
    let fetches = 0;
    const client = {
      async unary() {
        fetches++;
        return { svids: [{ spiffe_id: ID, svid: fetches === 1 ? first : second, hint: '' }] };
      },
      async watch(w: WatchOptions<'FetchJWTBundles'>) {
        await w.onMessage({ bundles: { 'spiffe://example.org': Buffer.from(jwks(old)) } });
        await new Promise<void>((r) => (sendNext = r));
        const next = c.next(old, fresh);
        if (c.interrupted) w.onInterrupted?.(c.interrupted);
        await w.onMessage({ bundles: Object.fromEntries(Object.entries(next).map(([td, j]) => [td, Buffer.from(j)])) });
        secondSetSent = true;
        await new Promise((r) => w.signal.addEventListener('abort', r, { once: true }));
      },
    } as unknown as WorkloadClient;
    const dir = tempDir();
    const stop = new AbortController();
    const written: string[] = [];
    const unusable: string[] = [];
    const bundles = new JwtBundleWatch();
    const writer = new JwtWriter({ certDir: dir, jwtSvidFileMode: 0o600, jwtBundleFileMode: 0o600, jwtBundleFormat: 'go-helper' }, silentLogger);
    const loop = { client, entry, hint: '', bundles, writer, log: silentLogger, signal: stop.signal };
    const onWritten = () => written.push(readFileSync(join(dir, 'api.jwt'), 'utf8'));
    const running = Promise.all([bundles.run(client, stop.signal), keepJwtSvidFresh({ ...loop, onWritten, onUnusable: (why) => unusable.push(why) })]);
    try {
      await waitFor('the first token', () => written.length === 1);
      sendNext();
      await waitFor('the second bundle set', () => secondSetSent);
      if (c.refreshed) {
        // The new token is fetched; it is written when the new set verifies it (not for a trust domain gone).
        await waitFor('a new token fetched', () => fetches === 2, 5_000);
        if (c.next(old, fresh)['spiffe://example.org']) await waitFor('the new token written', () => written[1] === second, 5_000);
        assert.equal(unusable.length, 1, 'health is told once that the token on disk is useless');
        // A refresh that keeps failing (the trust domain gone) backs off: it does not spin.
        await sleep(300);
        assert.ok(fetches <= 3, `${fetches} fetches in 300 ms`);
      } else {
        // Nothing is due for five minutes: a fetch, if one were made, would start within a tick or two.
        await sleep(200);
        assert.equal(fetches, 1, 'no fetch while the token on disk still verifies');
        assert.deepEqual(unusable, []);
      }
    } finally {
      stop.abort();
      await running;
    }
  });
}

test('readiness: a token on disk that no longer verifies with the JWT bundle is not ready until a new one is written', () => {
  const dir = tempDir();
  const health = new HealthState({ certDir: dir, x509: false, jwtFiles: ['api.jwt'] });
  const expiry = new Date(Date.now() + 600_000);
  // Readiness also compares the disk with what was written: the token is there.
  writeFileSync(join(dir, 'api.jwt'), 'token');
  health.jwtWritten('api.jwt', expiry, true);
  assert.equal(health.ready(), true);
  health.jwtUnusable('api.jwt', 'jwtsvid: key "k1" is not in the JWT bundle of trust domain "example.org"');
  assert.deepEqual(health.notReady(), ['jwt svid api.jwt: no longer usable: jwtsvid: key "k1" is not in the JWT bundle of trust domain "example.org"']);
  health.jwtFailed('api.jwt', 'the agent handed out the same token');
  assert.equal(health.ready(), false, 'a failed refresh does not make it usable');
  health.jwtWritten('api.jwt', expiry, true);
  assert.equal(health.ready(), true);
});
