/**
 * Trust decisions end to end (the helper's bundle, dist/cli.js, against the dev agent): empty
 * federated bundles, chains that must not be written, JWT bundles with keys we cannot use,
 * tokens without kid. Real SPIRE: test/integration/spire-trust.test.ts.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startDevAgent, type DevAgent, type RawX509SVIDResponse } from '../../src/dev/agent.js';
import { fromPem } from '../../src/spiffe/pem.js';
import { CASE_ID, chainCases } from '../helpers/chain-cases.js';
import { runCli, writeConfig } from '../helpers/cli.js';
import { jwk, testKey, token } from '../helpers/jwt.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { assertUnchanged, Helper, isRejected, isWritten, leafSerial, snapshot } from '../hardening/lib.js';

const agents: DevAgent[] = [];
const helpers: Helper[] = [];
after(async () => {
  await Promise.all(helpers.map((h) => h.stop()));
  await Promise.all(agents.map((a) => a.close()));
});

async function agent(dir: string, federated: string[] = []): Promise<DevAgent> {
  const a = await startDevAgent({ socketPath: join(dir, 'agent.sock'), svidTtlSeconds: 3600, federatedTrustDomains: federated });
  agents.push(a);
  return a;
}

/** The agent's current state with the partner's X.509 bundle emptied, as SPIRE sends it for a JWT-only partner. */
function withEmptyPartner(a: DevAgent): RawX509SVIDResponse {
  const cur = a.current()!;
  return { ...cur, federated_bundles: { ...cur.federated_bundles, 'spiffe://partner.org': Buffer.alloc(0) } };
}

const subjectsIn = (file: string) => fromPem(readFileSync(file, 'utf8'), 'CERTIFICATE').map((d) => new X509Certificate(d).subject);

test('daemon: an empty federated bundle is accepted: its CAs leave bundle.pem, its file is removed, one log line, rotations go on', async () => {
  const dir = tempDir();
  const a = await agent(dir, ['partner.org']);
  const certs = join(dir, 'certs');
  const h = Helper.start(writeConfig(dir, a.address, 'include_federated_domains = true\nfederated_bundle_file_name = "federated_{trust_domain}.pem"\n'));
  helpers.push(h);
  await h.waitFor('the first write', 0, isWritten);
  assert.ok(existsSync(join(certs, 'federated_partner.org.pem')));
  assert.ok(subjectsIn(join(certs, 'bundle.pem')).some((s) => s.includes('partner.org')));

  const m = h.mark();
  a.pushX509(withEmptyPartner(a));
  await h.waitFor('the update without the partner', m, (l) => isWritten(l) || isRejected(l));
  assert.equal(h.find(m, isRejected), undefined, 'not refused');
  // Removed just after the files are in place (after the "written" line).
  await waitFor('the stale per-domain file to go', () => !existsSync(join(certs, 'federated_partner.org.pem')) || undefined, 5_000);
  assert.ok(!subjectsIn(join(certs, 'bundle.pem')).some((s) => s.includes('partner.org')), 'no CA of the partner in bundle.pem');
  const notes = () => h.lines(m).filter((l) => /empty x509 bundle/.test(l.msg));
  assert.equal(notes().length, 1);
  assert.equal(notes()[0]!.trust_domains, 'partner.org');

  // Said once, not per message: the same state again adds no line.
  for (let i = 0; i < 3; i++) a.pushX509(withEmptyPartner(a));
  await a.rotate(); // the dev agent's own rotation, partner included: a change, which is written
  const back = h.mark();
  a.pushX509(withEmptyPartner(a)); // and the partner empty again: a change again
  const want = leafSerial(a.current()!.svids[0]!.x509_svid);
  await h.waitFor('the rotated SVID without the partner', back, (l) => /empty x509 bundle/.test(l.msg));
  assert.equal(notes().length, 2, 'one line per change to the set of empty domains, none for repeats');
  // The note comes as the message is read; the write follows once the agent is quiet (update_quiet_period).
  await h.waitFor('the rotated SVID written', back, (l) => isWritten(l) && l.serial === want);
  await waitFor('the per-domain file to go again', () => !existsSync(join(certs, 'federated_partner.org.pem')) || undefined, 5_000);
  assert.equal(leafSerial(Buffer.from(fromPem(readFileSync(join(certs, 'svid.pem'), 'utf8'), 'CERTIFICATE')[0]!)), want, 'the own SVID rotated');
});

test('--once: an empty federated bundle does not refuse the update (exit 0, no file for the partner)', async () => {
  const dir = tempDir();
  const a = await agent(dir, ['partner.org', 'other.org']);
  a.pushX509(withEmptyPartner(a));
  const r = await runCli(['--config', writeConfig(dir, a.address, 'federated_bundle_file_name = "federated_{trust_domain}.pem"\n'), '--once', '--timeout', '20s']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'certs', 'federated_other.org.pem')));
  assert.equal(existsSync(join(dir, 'certs', 'federated_partner.org.pem')), false);
  assert.match(r.stderr, /federated trust domains with an empty x509 bundle.*partner\.org/);
});

test('daemon: every chain that must not be written is refused with its reason; the last good files stay; the next good update lands', async () => {
  const dir = tempDir();
  const a = await agent(dir);
  const certs = join(dir, 'certs');
  const h = Helper.start(writeConfig(dir, a.address));
  helpers.push(h);
  await h.waitFor('the first write', 0, isWritten);
  const cur = a.current()!;
  for (const c of chainCases.filter((c) => c.reason)) {
    const made = await c.make();
    const before = snapshot(certs);
    const m = h.mark();
    a.pushX509({ ...cur, svids: [{ spiffe_id: CASE_ID, x509_svid: Buffer.concat(made.chain), x509_svid_key: made.keyDer, bundle: Buffer.concat(made.bundle), hint: '' }] });
    const line = await h.waitFor(`the refusal of: ${c.name}`, m, (l) => isRejected(l) || isWritten(l));
    assert.ok(isRejected(line), `${c.name}: written!`);
    assertUnchanged(before, snapshot(certs), c.name);
  }
  const m = h.mark();
  await a.rotate();
  const want = leafSerial(a.current()!.svids[0]!.x509_svid);
  await h.waitFor('the good update after them', m, (l) => isWritten(l) && l.serial === want);
});

test('jwt verify: a JWKS with a key of unknown kty (AKP) still verifies with its other keys, saying what it ignored', async () => {
  const dir = tempDir();
  const key = testKey('ES256', { kid: 'good' });
  const file = join(dir, 'bundle.jwks');
  writeFileSync(file, JSON.stringify({ keys: [{ kty: 'AKP', alg: 'ML-DSA-44', pub: 'AAAA', kid: 'pq', use: 'jwt-svid' }, jwk(key)] }));
  const r = await runCli(['jwt', 'verify', '--bundle', file, '--trust-domain', 'example.org', '--audience', 'api', token('ES256', key)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).spiffe_id, 'spiffe://example.org/workload');
  assert.match(r.stderr, /jwt bundle key ignored: example\.org: key 1 "pq": kty "AKP"/);
});

test('jwt verify: a token without kid verifies with the fitting key of its trust domain', async () => {
  const dir = tempDir();
  const [other, key] = [testKey('ES384', { kid: 'other' }), testKey('ES256', { kid: 'k' })];
  const file = join(dir, 'bundle.jwks');
  writeFileSync(file, JSON.stringify({ keys: [jwk(other), jwk(key)] }));
  const r = await runCli(['jwt', 'verify', '--bundle', file, '--trust-domain', 'example.org', '--audience', 'api', token('ES256', key, { header: { kid: undefined } })]);
  assert.equal(r.code, 0, r.stderr);
  const stranger = await runCli(['jwt', 'verify', '--bundle', file, '--trust-domain', 'example.org', '--audience', 'api', token('ES256', testKey('ES256'), { header: { kid: undefined } })]);
  assert.equal(stranger.code, 5);
  assert.match(stranger.stderr, /verifies with none of the 1 ES256 keys/);
});

test('inspect flags what the helper refuses, with the same verdict (one verification function)', async () => {
  const dir = tempDir();
  const pem = (ders: Buffer[]) => ders.map((d) => `-----BEGIN CERTIFICATE-----\n${d.toString('base64')}\n-----END CERTIFICATE-----\n`).join('');
  for (const name of [
    'expired intermediate',
    'self-signed leaf',
    'not-yet-valid leaf',
    'a bundle holding a non-CA',
    'a bundle CA on secp256k1',
    'the bundle CA has a critical extension nobody understands',
    'RSA-PSS signature, SHA-256 with a 20-byte salt',
  ]) {
    const c = chainCases.find((x) => x.name === name)!;
    const made = await c.make();
    writeFileSync(join(dir, 'svid.pem'), pem(made.chain));
    writeFileSync(join(dir, 'svid_key.pem'), `-----BEGIN PRIVATE KEY-----\n${made.keyDer.toString('base64')}\n-----END PRIVATE KEY-----\n`);
    writeFileSync(join(dir, 'bundle.pem'), pem(made.bundle));
    const r = await runCli(['inspect', '--dir', dir, '--json']);
    assert.notEqual(r.code, 0, `${name}: inspect found nothing`);
    const report = JSON.parse(r.stdout);
    assert.ok(
      report.problems.some((p: string) => p.includes(`[${c.reason}]`)),
      `${name}: ${JSON.stringify(report.problems)}`,
    );
  }
});

test('agent_address is an RFC 3986 URI: unix:///dir/a%20b.sock reaches the socket "a b.sock"', async () => {
  const dir = tempDir();
  const a = await startDevAgent({ socketPath: join(dir, 'a b.sock') });
  agents.push(a);
  const encoded = `unix://${join(dir, 'a b.sock').split('/').map(encodeURIComponent).join('/')}`;
  assert.match(encoded, /a%20b\.sock$/);
  const r = await runCli(['--config', writeConfig(dir, encoded), '--once', '--timeout', '20s']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'certs', 'svid.pem')));
  const bad = await runCli(['--config', writeConfig(dir, `unix://${dir}/a%zzb.sock`), '--once', '--timeout', '5s']);
  assert.equal(bad.code, 3, bad.stderr);
  assert.match(bad.stderr, /agent_address: .*invalid percent-encoding "%zz"/);
});
