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
