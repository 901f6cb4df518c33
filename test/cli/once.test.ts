import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, startCli, writeConfig } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { opensslPublicKeys, opensslUriSan, opensslVerify } from '../helpers/openssl.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as const) {
  test(`--once writes an SVID (${keyType}, with intermediate) that openssl verifies, and exits 0`, async () => {
    const dir = tempDir();
    const a = await devAgent(dir, { intermediate: true, keyType });
    const r = await runCli(['--config', writeConfig(dir, a.address), '--once']);
    assert.equal(r.code, 0, r.stderr);
    const certs = join(dir, 'certs');
    assert.deepEqual(readdirSync(certs).sort(), ['bundle.pem', 'svid.pem', 'svid_key.pem']);
    assert.match(opensslVerify(join(certs, 'bundle.pem'), join(certs, 'svid.pem')), /: OK/);
    const keys = opensslPublicKeys(join(certs, 'svid_key.pem'), join(certs, 'svid.pem'));
    assert.equal(keys.fromKey, keys.fromCert, 'the key file holds the key of the certificate');
    assert.equal(opensslUriSan(join(certs, 'svid.pem')), 'spiffe://example.org/workload');
  });
}

test('every call carries the security header', async () => {
  const dir = tempDir();
  const a = await devAgent(dir);
  const r = await runCli(['-config', writeConfig(dir, a.address), '-daemon-mode=false']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(a.calls.length >= 1);
  for (const call of a.calls) assert.equal(call.metadata['workload.spiffe.io'], 'true');
});

test('SPIFFE_ENDPOINT_SOCKET is used when agent_address is absent', async () => {
  const dir = tempDir();
  const a = await devAgent(dir);
  const r = await runCli(['--config', writeConfig(dir, undefined), '--once'], { env: { SPIFFE_ENDPOINT_SOCKET: a.address } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'certs', 'svid.pem')));
});

test('retries after PERMISSION_DENIED until an identity is issued', async () => {
  const dir = tempDir();
  const a = await devAgent(dir, { identities: [] });
  const run = startCli(['--config', writeConfig(dir, a.address), '--once', '--timeout', '20s']);
  while (a.calls.length < 2) await new Promise((r) => setTimeout(r, 50));
  a.setIdentities([{ spiffeId: 'spiffe://example.org/late' }]);
  await a.rotate();
  const r = await run.result;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /no identity issued to this workload yet/);
  assert.equal(opensslUriSan(join(dir, 'certs', 'svid.pem')), 'spiffe://example.org/late');
});

test('retries after UNAVAILABLE until the agent is up', async () => {
  const dir = tempDir();
  const socket = join(dir, 'agent.sock');
  const run = startCli(['--config', writeConfig(dir, `unix://${socket}`), '--once', '--timeout', '20s']);
  // The agent comes up only once the helper has been refused at least once, however slowly it starts.
  await waitFor('a refused first attempt', () => /socket file not found/.test(run.stderr()), 15_000);
  await devAgent(dir);
  const r = await run.result;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /socket file not found/);
  assert.ok(existsSync(join(dir, 'certs', 'svid.pem')));
});

for (const [name, code] of [
  ['INVALID_ARGUMENT', status.INVALID_ARGUMENT],
  ['UNIMPLEMENTED', status.UNIMPLEMENTED],
] as const) {
  test(`no retry after ${name}: exits 5 at once`, async () => {
    const dir = tempDir();
    const a = await devAgent(dir);
    a.setFault('FetchX509SVID', { code, message: 'refused by test' });
    const r = await runCli(['--config', writeConfig(dir, a.address), '--once', '--timeout', '20s']);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(a.calls.filter((c) => c.method === 'FetchX509SVID').length, 1, 'called exactly once');
    assert.match(r.stderr, /refused by test/);
    assert.equal(existsSync(join(dir, 'certs', 'svid.pem')), false);
  });
}

test('--once against a missing socket exits 4 within the timeout, saying why', async () => {
  const dir = tempDir();
  const r = await runCli(['--config', writeConfig(dir, join(dir, 'none.sock')), '--once', '--timeout', '1500ms']);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /no valid X\.509-SVID within 1500ms: FetchX509SVID: no agent at socket .*none\.sock \(socket file not found\)/);
  assert.ok(r.ms < 6000, `took ${r.ms} ms`);
});

test('a config error exits 3 naming the file and key, before anything is touched', async () => {
  const dir = tempDir();
  const file = writeConfig(dir, '/x.sock', 'renew_signal = "hup"\n');
  const r = await runCli(['--config', file, '--once']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, new RegExp(`${file}:6: renew_signal: "hup" is not a signal name; did you mean "SIGHUP"\\?`));
  assert.equal(existsSync(join(dir, 'certs')), false);
});

test('bad flags exit 2 with usage', async () => {
  const r = await runCli(['--frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown option '--frobnicate'/);
});

test('SIGTERM while waiting stops the one-shot with 128+15', async () => {
  const dir = tempDir();
  const run = startCli(['--config', writeConfig(dir, join(dir, 'none.sock')), '--once', '--timeout', '30s']);
  while (!run.stderr().includes('retrying')) await new Promise((r) => setTimeout(r, 50));
  run.child.kill('SIGTERM');
  const r = await run.result;
  assert.equal(r.code, 143, r.stderr);
});
