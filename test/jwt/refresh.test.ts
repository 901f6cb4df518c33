import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HelperError } from '../../src/errors.js';
import { JwtBundleWatch } from '../../src/jwt/bundle-watch.js';
import { fetchJwtSvid } from '../../src/jwt/fetch.js';
import { keepJwtSvidFresh, refreshDelayMs } from '../../src/jwt/refresh.js';
import { silentLogger } from '../../src/log.js';
import { JwtWriter } from '../../src/output/jwt-writer.js';
import type { WorkloadClient, WatchOptions } from '../../src/workload/client.js';
import type { JWTSVIDMessage } from '../../src/workload/proto.js';
import { bundleSet, jwks, testKey, token } from '../helpers/jwt.js';
import { tempDir } from '../helpers/tmp.js';

const ID = 'spiffe://example.org/workload';
const key = testKey('ES256');
const stranger = testKey('ES256', { kid: key.kid });
const entry = { audience: 'api', extraAudiences: ['x', 'y'], fileName: 'api.jwt' };

/** A Workload API client that answers FetchJWTSVID from a script and streams one bundle set. */
function stubClient(answers: (JWTSVIDMessage[] | Error | 'hang')[], o: { bundleDelayMs?: number } = {}) {
  const requests: unknown[] = [];
  const client = {
    async unary(_rpc: string, request: unknown, signal: AbortSignal) {
      requests.push(request);
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (next instanceof Error) throw next;
      // An agent that never answers: like the real client retrying UNAVAILABLE until aborted.
      if (next === 'hang') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      return { svids: next };
    },
    async watch(w: WatchOptions<'FetchJWTBundles'>) {
      await sleep(o.bundleDelayMs ?? 0);
      await w.onMessage({ bundles: { 'spiffe://example.org': Buffer.from(jwks(key)) } });
      await new Promise((r) => w.signal.addEventListener('abort', r, { once: true }));
    },
    failure: () => undefined,
  } as unknown as WorkloadClient;
  return { client, requests };
}

const svid = (t: string, hint = ''): JWTSVIDMessage => ({ spiffe_id: ID, svid: t, hint });

test('refresh at half the remaining lifetime plus 1 s, always before expiry', () => {
  const at = (ms: number) => refreshDelayMs(new Date(1_000_000 + ms), new Date(1_000_000));
  assert.equal(at(300_000), 151_000);
  assert.equal(at(4_000), 3_000);
  assert.equal(at(1_000), 750);
  assert.equal(at(-5), 0);
  assert.equal(at(100 * 86_400_000), 2 ** 31 - 1, 'capped: setTimeout fires at once past 2^31-1 ms');
});

test('fetchJwtSvid asks for every audience, picks by hint and validates for the first audience', async () => {
  const bundles = bundleSet({ 'example.org': [key] });
  const good = token('ES256', key, { claims: { aud: ['api', 'x', 'y'] } });
  const { client, requests } = stubClient([[svid(token('ES256', stranger), ''), svid(good, 'mine')]]);
  const got = await fetchJwtSvid({ client, entry, hint: 'mine', bundles, signal: new AbortController().signal });
  assert.equal(got.token, good);
  assert.equal(got.hint, 'mine');
  assert.deepEqual(requests, [{ audience: ['api', 'x', 'y'], spiffe_id: '' }]);
});

const fetchCases: [string, JWTSVIDMessage[], string, RegExp][] = [
  ['no SVIDs', [], '', /the response holds no JWT-SVIDs/],
  ['an unknown hint', [svid('a.b.c', 'one')], 'two', /no JWT-SVID has hint "two" \(the agent sent hints: "one"\)/],
  [
    "a spiffe_id that is not the token's sub",
    [{ ...svid(''), spiffe_id: 'spiffe://example.org/other' }],
    '',
    /the response says the token is for "spiffe:\/\/example.org\/other" but its "sub" claim is spiffe:\/\/example.org\/workload/,
  ],
];
for (const [name, svids, hint, message] of fetchCases) {
  test(`fetchJwtSvid rejects ${name}`, async () => {
    const fixed = svids.map((s) => (s.svid === '' ? { ...s, svid: token('ES256', key) } : s));
    const { client } = stubClient([fixed]);
    await assert.rejects(fetchJwtSvid({ client, entry, hint, bundles: bundleSet({ 'example.org': [key] }), signal: new AbortController().signal }), message);
  });
}

test('a bad token, or an agent failure, leaves the last good token on disk; the next good one replaces it', async () => {
  const dir = tempDir();
  // Lives 1-2 s: the refresh comes 0.75-1.5 s later.
  const good1 = token('ES256', key, { claims: { jti: '1', exp: Math.floor(Date.now() / 1000) + 2 } });
  const good2 = token('ES256', key, { claims: { jti: '2' } });
  const { client } = stubClient([[svid(good1)], [svid(token('none', key))], [svid(token('ES256', stranger))], new HelperError('unavailable', 'agent away'), [svid(good2)]], { bundleDelayMs: 50 });
  const bundles = new JwtBundleWatch();
  const stop = new AbortController();
  const writer = new JwtWriter({ certDir: dir, jwtSvidFileMode: 0o600, jwtBundleFileMode: 0o600, jwtBundleFormat: 'go-helper' }, silentLogger);
  const seen: string[] = [];
  const fileNow = () => readFileSync(join(dir, 'api.jwt'), 'utf8');
  const running = Promise.all([
    bundles.run(client, stop.signal),
    keepJwtSvidFresh({
      client,
      entry,
      hint: '',
      bundles,
      writer,
      log: silentLogger,
      signal: stop.signal,
      backoff: { initialMs: 10, maxMs: 10, random: () => 1 },
      onWritten: (changed) => seen.push(`written:${changed}:${fileNow() === good1 ? 1 : fileNow() === good2 ? 2 : '?'}`),
      onFailed: (error) => seen.push(`failed:${fileNow() === good1 ? 1 : '?'}:${error.split(':').slice(0, 2).join(':')}`),
    }),
  ]);
  while (!seen.includes('written:true:2')) await sleep(10);
  stop.abort();
  await running;
  assert.deepEqual(seen.slice(0, 5), [
    'written:true:1',
    'failed:1:jwtsvid: alg "none" (an unsigned token) is never accepted',
    'failed:1:jwtsvid: signature does not verify with key "' + key.kid + '" of trust domain "example.org"',
    'failed:1:agent away',
    'written:true:2',
  ]);
});

test('an agent silent until the token on disk expires is reported at the expiry, then waited for', async () => {
  const exp = Math.floor(Date.now() / 1000) + 2;
  const { client } = stubClient([[svid(token('ES256', key, { claims: { exp } }))], 'hang', 'hang', [svid(token('ES256', key))]]);
  const bundles = new JwtBundleWatch();
  const stop = new AbortController();
  const writer = new JwtWriter({ certDir: tempDir(), jwtSvidFileMode: 0o600, jwtBundleFileMode: 0o600, jwtBundleFormat: 'go-helper' }, silentLogger);
  const failures: [number, string][] = [];
  const running = Promise.all([
    bundles.run(client, stop.signal),
    keepJwtSvidFresh({
      client,
      entry,
      hint: '',
      bundles,
      writer,
      log: silentLogger,
      signal: stop.signal,
      backoff: { initialMs: 300, maxMs: 300, random: () => 1 },
      onFailed: (error) => failures.push([Date.now(), error]),
    }),
  ]);
  while (failures.length === 0) await sleep(10);
  await sleep(500);
  stop.abort();
  await running;
  assert.equal(failures.length, 1, 'reported once; after the expiry the loop waits for the agent without a deadline');
  assert.match(failures[0]![1], /no valid token from the agent before the current one expired/);
  assert.ok(Math.abs(failures[0]![0] - exp * 1000) < 250, `reported ${failures[0]![0] - exp * 1000} ms from the expiry`);
});

test('a Workload API refusal that retrying cannot fix ends the loop with that error', async () => {
  const { client } = stubClient([new HelperError('workload-api', 'FetchJWTSVID: the agent rejected the request as invalid')]);
  const bundles = new JwtBundleWatch();
  const stop = new AbortController();
  void bundles.run(client, stop.signal);
  const writer = new JwtWriter({ certDir: tempDir(), jwtSvidFileMode: 0o600, jwtBundleFileMode: 0o600, jwtBundleFormat: 'go-helper' }, silentLogger);
  await assert.rejects(keepJwtSvidFresh({ client, entry, hint: '', bundles, writer, log: silentLogger, signal: stop.signal }), /rejected the request as invalid/);
  stop.abort();
});

test('nothing is fetched before the first bundle set: a token cannot be validated without it', async () => {
  const { client, requests } = stubClient([[svid(token('ES256', key))]], { bundleDelayMs: 200 });
  const bundles = new JwtBundleWatch();
  const stop = new AbortController();
  const writer = new JwtWriter({ certDir: tempDir(), jwtSvidFileMode: 0o600, jwtBundleFileMode: 0o600, jwtBundleFormat: 'go-helper' }, silentLogger);
  const running = Promise.all([bundles.run(client, stop.signal), keepJwtSvidFresh({ client, entry, hint: '', bundles, writer, log: silentLogger, signal: stop.signal })]);
  await sleep(100);
  assert.equal(requests.length, 0);
  while (requests.length === 0) await sleep(10);
  stop.abort();
  await running;
});
