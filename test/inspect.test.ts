import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { InspectReport } from '../src/inspect/document.js';
import { toPem } from '../src/spiffe/pem.js';
import { generateKeys, issue, svidChain } from './helpers/certs.js';
import { runCli, writeConfig } from './helpers/cli.js';
import { devAgent } from './helpers/dev-agent.js';
import { jwks, testKey, token } from './helpers/jwt.js';
import { tempDir } from './helpers/tmp.js';
import { webcrypto } from 'node:crypto';

const PROBLEM = 9;

async function inspectJson(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = await runCli(['inspect', ...args, '--json'], { env });
  assert.ok(r.code === 0 || r.code === PROBLEM, `exit ${r.code}: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as InspectReport, stdout: r.stdout };
}

/** Writes svid.pem, svid_key.pem and bundle.pem into `dir` from DER parts. */
function writeSet(dir: string, o: { chain: Buffer[]; keyDer: Buffer; bundle: Buffer[] }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'svid.pem'), o.chain.map((d) => toPem('CERTIFICATE', d)).join(''));
  writeFileSync(join(dir, 'svid_key.pem'), toPem('PRIVATE KEY', o.keyDer));
  writeFileSync(join(dir, 'bundle.pem'), o.bundle.map((d) => toPem('CERTIFICATE', d)).join(''));
}

test('files written by the helper: every check passes, and no key or token is printed', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { intermediate: true, federatedTrustDomains: ['partner.org'] });
  const extra = `federated_bundle_file_name = "federated_{trust_domain}.pem"
jwt_svids = [{ jwt_audience = "api", jwt_extra_audiences = ["x"], jwt_svid_file_name = "api.jwt" }]
jwt_bundle_file_name = "jwt_bundle.json"
`;
  const config = writeConfig(dir, agent.address, extra);
  const once = await runCli(['--config', config, '--once']);
  assert.equal(once.code, 0, once.stderr);

  const { code, report, stdout } = await inspectJson(['--config', config]);
  assert.equal(code, 0, JSON.stringify(report.problems));
  assert.deepEqual(report.problems, []);
  const x = report.x509_svid!;
  assert.equal(x.spiffe_id, 'spiffe://example.org/workload');
  assert.equal(x.key_matches, true);
  assert.equal(x.chain.verified, true);
  assert.equal(x.intermediates, 1);
  assert.ok(x.seconds_left > 0 && x.seconds_left <= 70, `seconds left ${x.seconds_left}`);
  assert.match(x.issuer, /intermediate/);
  assert.deepEqual(
    report.bundles.map((b) => [b.file.split('/').pop(), b.trust_domains]),
    [
      ['bundle.pem', { 'example.org': 1 }],
      ['federated_partner.org.pem', { 'partner.org': 1 }],
    ],
  );
  const [jwt] = report.jwt_svids;
  assert.equal(jwt?.spiffe_id, 'spiffe://example.org/workload');
  assert.deepEqual(jwt?.audience, ['api', 'x']);
  assert.equal(jwt?.signature, 'verified');
  assert.equal(jwt?.expired, false);
  assert.deepEqual(report.jwt_bundles[0]?.trust_domains, { 'example.org': 1, 'partner.org': 1 });

  const secret = readFileSync(join(dir, 'certs', 'api.jwt'), 'utf8');
  const text = await runCli(['inspect', '--config', config]);
  assert.equal(text.code, 0, text.stderr);
  for (const out of [stdout, text.stdout]) {
    assert.ok(!out.includes(secret) && !out.includes(secret.split('.')[2]!), 'the token is never printed');
    assert.doesNotMatch(out, /PRIVATE KEY/);
  }
  assert.match(text.stdout, /SPIFFE ID\s+spiffe:\/\/example\.org\/workload/);
  assert.match(text.stdout, /chain\s+leaf \+ 1 intermediate; verifies/);
  assert.match(text.stdout, /svid_key\.pem matches the certificate/);
  assert.match(text.stdout, /^OK at /m);

  // --dir reads the same files by name.
  const byDir = await inspectJson(['--dir', join(dir, 'certs'), '--jwt-svid', 'api.jwt', '--jwt-bundle', 'jwt_bundle.json', '--svid', 'svid.pem']);
  assert.equal(byDir.code, 0, JSON.stringify(byDir.report.problems));
  assert.equal(byDir.report.jwt_svids[0]?.signature, 'verified');
});

test('intermediates in the bundle (add_intermediates_to_bundle) still verify', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { intermediate: true });
  const config = writeConfig(dir, agent.address, 'add_intermediates_to_bundle = true\n');
  assert.equal((await runCli(['--config', config, '--once'])).code, 0);
  const { code, report } = await inspectJson(['--config', config]);
  assert.equal(code, 0, JSON.stringify(report.problems));
  assert.equal(report.x509_svid?.intermediates, 0);
  assert.equal(report.bundles[0]?.certificates, 2);
});

test('a key that does not match the certificate is a problem (exit 9)', async () => {
  const dir = tempDir();
  const { leaf, root } = await svidChain('spiffe://example.org/web');
  const other = await generateKeys('ec-p256');
  const otherDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', other.privateKey));
  writeSet(dir, { chain: [leaf.der], keyDer: otherDer, bundle: [root.der] });
  const { code, report } = await inspectJson(['--dir', dir]);
  assert.equal(code, PROBLEM);
  assert.equal(report.x509_svid?.key_matches, false);
  assert.equal(report.x509_svid?.chain.verified, true);
  assert.match(report.problems.join('\n'), /svid_key\.pem: the private key does not match the certificate/);
  const text = await runCli(['inspect', '--dir', dir]);
  assert.equal(text.code, PROBLEM);
  assert.match(text.stdout, /DOES NOT MATCH/);
  assert.match(text.stdout, /^PROBLEMS at /m);
});

test('an expired certificate and an expired CA are reported', async () => {
  const dir = tempDir();
  const past = new Date(Date.now() - 3_600_000);
  const { leaf, root } = await svidChain('spiffe://example.org/web', { leaf: { notBefore: new Date(past.getTime() - 60_000), notAfter: past } });
  const oldCa = await issue({ ca: true, uris: ['spiffe://example.org'], notBefore: new Date(past.getTime() - 60_000), notAfter: past });
  writeSet(dir, { chain: [leaf.der], keyDer: leaf.keyDer, bundle: [root.der, oldCa.der] });
  const { code, report } = await inspectJson(['--dir', dir]);
  assert.equal(code, PROBLEM);
  assert.equal(report.x509_svid?.expired, true);
  assert.ok(report.x509_svid!.seconds_left < -3500);
  assert.equal(report.x509_svid?.key_matches, true);
  assert.match(report.problems.join('\n'), /svid\.pem: the certificate expired at /);
  assert.equal(report.bundles[0]?.expired, 1);
  assert.match(report.warnings.join('\n'), /1 of 2 CA certificates have expired/);
  const text = await runCli(['inspect', '--dir', dir]);
  assert.match(text.stdout, /\(EXPIRED 1h/);
});

test('a chain that another CA issued does not verify; missing files are problems', async () => {
  const dir = tempDir();
  const { leaf } = await svidChain('spiffe://example.org/web');
  const stranger = await issue({ ca: true, uris: ['spiffe://example.org'], name: 'stranger' });
  writeSet(dir, { chain: [leaf.der], keyDer: leaf.keyDer, bundle: [stranger.der] });
  const { code, report } = await inspectJson(['--dir', dir]);
  assert.equal(code, PROBLEM);
  assert.equal(report.x509_svid?.chain.verified, false);
  assert.match(report.problems.join('\n'), /the chain does not verify against .*bundle\.pem: no CA of the bundle and no intermediate issued the leaf .*\[chain_untrusted\]/);

  const empty = tempDir();
  const missing = await inspectJson(['--dir', empty]);
  assert.equal(missing.code, PROBLEM);
  assert.match(missing.report.problems.join('\n'), /svid\.pem: cannot read: file not found/);
});

test('JWT-SVID files: expired tokens and bad signatures are problems; the bundle is read', async () => {
  const dir = tempDir();
  const key = testKey('ES256');
  const other = testKey('ES256', { kid: key.kid });
  writeFileSync(join(dir, 'jwt_bundle.json'), JSON.stringify({ 'example.org': Buffer.from(jwks(key)).toString('base64') }));
  writeFileSync(join(dir, 'good.jwt'), token('ES256', key));
  writeFileSync(join(dir, 'old.jwt'), token('ES256', key, { claims: { exp: Math.floor(Date.now() / 1000) - 120 } }));
  writeFileSync(join(dir, 'forged.jwt'), token('ES256', other));
  writeFileSync(join(dir, 'junk.jwt'), 'not a token');
  const args = ['--dir', dir, '--jwt-bundle', 'jwt_bundle.json', ...['good', 'old', 'forged', 'junk'].flatMap((n) => ['--jwt-svid', `${n}.jwt`])];
  const { code, report } = await inspectJson(args);
  assert.equal(code, PROBLEM);
  assert.equal(report.x509_svid, undefined, 'only JWT files were named: X.509 is not looked for');
  const [good, old, forged, junk] = report.jwt_svids;
  assert.equal(good?.signature, 'verified');
  assert.equal(old?.expired, true);
  assert.equal(old?.signature, 'verified', 'the signature of an expired token is still checked');
  assert.match(forged!.signature, /signature does not verify/);
  assert.match(junk!.signature, /not a JWT/);
  const problems = report.problems.join('\n');
  assert.match(problems, /old\.jwt: the token expired at/);
  assert.match(problems, /forged\.jwt: jwtsvid: signature does not verify/);
  assert.doesNotMatch(problems, /good\.jwt/);
});

test('usage errors exit 2; the environment alone can name the files', async () => {
  assert.equal((await runCli(['inspect', '--svid', 'x'])).code, 2);
  assert.equal((await runCli(['inspect', '--dir', '/tmp', '--config', 'x'])).code, 2);
  assert.equal((await runCli(['inspect', '--bogus'])).code, 2);
  const dir = tempDir();
  const { leaf, root } = await svidChain('spiffe://example.org/web');
  writeSet(join(dir, 'certs'), { chain: [leaf.der], keyDer: leaf.keyDer, bundle: [root.der] });
  const env = {
    SPIFFE_HELPER_CERT_DIR: join(dir, 'certs'),
    SPIFFE_HELPER_SVID_FILE_NAME: 'svid.pem',
    SPIFFE_HELPER_SVID_KEY_FILE_NAME: 'svid_key.pem',
    SPIFFE_HELPER_SVID_BUNDLE_FILE_NAME: 'bundle.pem',
  };
  const r = await runCli(['inspect'], { cwd: dir, env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /spiffe:\/\/example\.org\/web/);
});
