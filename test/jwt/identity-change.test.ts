/**
 * FetchJWTSVID is a call: only the X.509 stream shows that the agent no longer issues the identity
 * a token on disk names while it still issues another (the hinted entry deleted; without a hint,
 * the first entry deleted). The X.509 pipeline reports the identity it picks (PickedIdentity);
 * a change makes the JWT refresh loop fetch at once, not at half the token's lifetime. The
 * fetch then refuses the missing hint (health: redacted) or writes the new identity's token.
 * Real SPIRE: spire-entries.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../../src/errors.js';
import { HealthState } from '../../src/health/state.js';
import { JwtBundleWatch } from '../../src/jwt/bundle-watch.js';
import { keepJwtSvidFresh } from '../../src/jwt/refresh.js';
import { silentLogger } from '../../src/log.js';
import { JwtWriter } from '../../src/output/jwt-writer.js';
import { PickedIdentity } from '../../src/pipeline/identity.js';
import type { WatchOptions, WorkloadClient } from '../../src/workload/client.js';
import { jwks, testKey, token } from '../helpers/jwt.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const TD = 'spiffe://example.org';
const entry = { audience: 'api', extraAudiences: [], fileName: 'api.jwt' };

/** A JWT loop against an agent whose JWT-SVIDs are `issue()`'s at each fetch, with health. */
function scene(hint: string, issue: () => { spiffe_id: string; hint: string }[]) {
  const key = testKey('ES256');
  // Ten minutes: without a wake-up the next refresh is five minutes away.
  const exp = Math.floor(Date.now() / 1000) + 600;
  const fetched: string[][] = [];
  const client = {
    async unary() {
      const svids = issue().map((s) => ({ ...s, svid: token('ES256', key, { claims: { sub: s.spiffe_id, exp } }) }));
      fetched.push(svids.map((s) => s.spiffe_id));
      return { svids };
    },
    async watch(w: WatchOptions<'FetchJWTBundles'>) {
      await w.onMessage({ bundles: { [TD]: Buffer.from(jwks(key)) } });
      await new Promise((r) => w.signal.addEventListener('abort', r, { once: true }));
    },
  } as unknown as WorkloadClient;
  const dir = tempDir();
  const stop = new AbortController();
  const identity = new PickedIdentity();
  const health = new HealthState({ certDir: dir, x509: false, jwtFiles: ['api.jwt'] });
  const bundles = new JwtBundleWatch();
  const writer = new JwtWriter({ certDir: dir, jwtSvidFileMode: 0o600, jwtBundleFileMode: 0o600, jwtBundleFormat: 'go-helper' }, silentLogger);
  const running = Promise.all([
    bundles.run(client, stop.signal),
    keepJwtSvidFresh({
      client,
      entry,
      hint,
      bundles,
      identity,
      writer,
      log: silentLogger,
      signal: stop.signal,
      onWritten: (changed, expiry) => health.jwtWritten('api.jwt', expiry, changed),
      onFailed: (error, cause) => health.jwtFailed('api.jwt', error, cause),
    }),
  ]);
  const sub = (): string => JSON.parse(Buffer.from(readFileSync(join(dir, 'api.jwt'), 'utf8').split('.')[1]!, 'base64url').toString()).sub;
  return {
    identity,
    health,
    fetched,
    sub,
    async stop() {
      stop.abort();
      await running;
    },
  };
}

test('hint: the hinted identity no longer on the X.509 stream → the token is fetched at once, the missing hint refused, its output redacted; the hinted identity back → its token written, ready', async () => {
  let issued = [
    { spiffe_id: `${TD}/web-v1`, hint: 'web' },
    { spiffe_id: `${TD}/db`, hint: 'db' },
  ];
  const s = scene('web', () => issued);
  try {
    await waitFor('the first token', () => s.health.ready());
    s.identity.picked(`${TD}/web-v1`);
    assert.equal(s.sub(), `${TD}/web-v1`);

    issued = [{ spiffe_id: `${TD}/db`, hint: 'db' }];
    s.identity.picked('');
    await waitFor('a fetch at once', () => s.fetched.length === 2, 5_000);
    await waitFor('not ready', () => !s.health.ready(), 5_000);
    assert.match(s.health.notReady().join('\n'), /^jwt svid api\.jwt: redacted: .*no JWT-SVID has hint "web"/m);
    assert.equal(s.sub(), `${TD}/web-v1`, 'the file stays');

    issued = [
      { spiffe_id: `${TD}/db`, hint: 'db' },
      { spiffe_id: `${TD}/web-v2`, hint: 'web' },
    ];
    s.identity.picked(`${TD}/web-v2`);
    await waitFor('ready again', () => s.health.ready(), 5_000);
    assert.equal(s.sub(), `${TD}/web-v2`, 'the token names the identity the agent issues now');
  } finally {
    await s.stop();
  }
});

test('no hint: the first identity deleted while another is issued → the token of the identity now first is fetched at once', async () => {
  let issued = [
    { spiffe_id: `${TD}/a`, hint: '' },
    { spiffe_id: `${TD}/b`, hint: '' },
  ];
  const s = scene('', () => issued);
  try {
    await waitFor('the first token', () => s.health.ready());
    s.identity.picked(`${TD}/a`);
    issued = [{ spiffe_id: `${TD}/b`, hint: '' }];
    s.identity.picked(`${TD}/b`);
    await waitFor('the token of b', () => s.sub() === `${TD}/b`, 5_000);
    // The file is renamed in before the write is recorded (a directory fsync comes between).
    await waitFor('ready with the token of b', () => s.health.ready(), 5_000);
    assert.equal(s.sub(), `${TD}/b`);
  } finally {
    await s.stop();
  }
});

test('the same identity on every X.509 update (each rotation) fetches nothing before half the lifetime', async () => {
  const s = scene('', () => [{ spiffe_id: `${TD}/a`, hint: '' }]);
  try {
    await waitFor('the first token', () => s.health.ready());
    for (let i = 0; i < 5; i++) s.identity.picked(`${TD}/a`);
    // A fetch, if one were made, would start within a tick or two.
    await sleep(200);
    assert.equal(s.fetched.length, 1);
  } finally {
    await s.stop();
  }
});

test('a waiter whose signal aborts is forgotten, and rejects with the reason', async () => {
  const identity = new PickedIdentity();
  identity.picked(`${TD}/a`);
  const stop = new AbortController();
  const waiting = identity.changed(stop.signal);
  stop.abort(new Error('stopped'));
  await assert.rejects(waiting, (e) => describeError(e) === 'stopped');
  // Nothing left to wake: a change after the abort reaches no one (and throws nothing).
  identity.picked(`${TD}/b`);
});
