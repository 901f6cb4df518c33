/**
 * Cross-check against go-spiffe, the official Go SPIFFE library (version pinned in go.mod):
 * its Workload API client against our dev agent, and its loaders against the files our helper
 * writes. What go-spiffe rejects here, real Go workloads (and the Go spiffe-helper) reject too.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDevAgent, type DevAgent, type DevAgentOptions } from '../../src/dev/agent.js';
import { keyTypes } from '../../src/dev/ca.js';
import { runCli, writeConfig } from '../helpers/cli.js';
import { toPem } from '../../src/spiffe/pem.js';
import { chainCases } from '../helpers/chain-cases.js';
import { CASE_AUDIENCE, CASE_TD, jwtCases } from '../helpers/jwt-cases.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { jwtBundleToJwks, parseJwtBundle } from '../../src/spiffe/jwtbundle.js';
import { parseAndValidateJwtSvid } from '../../src/spiffe/jwtsvid.js';
import { derCases } from '../helpers/der-cases.js';
import { interopBuild, runInterop, type InteropResult } from '../helpers/interop.js';
import { tempDir } from '../helpers/tmp.js';

const TD = 'example.org';
const PARTNER = 'partner.org';
const AUDIENCE = 'interop-test';

const agents: DevAgent[] = [];
after(() => Promise.all(agents.map((a) => a.close())));
async function agent(dir: string, options: Partial<DevAgentOptions> = {}): Promise<DevAgent> {
  const a = await startDevAgent({ socketPath: join(dir, 'agent.sock'), ...options });
  agents.push(a);
  return a;
}

before(
  async () => {
    // The first build downloads modules and compiles gRPC: give it time, once, here.
    const b = await interopBuild();
    console.log(`go-spiffe interop program: ${b.built ? 'built' : 'cached'} in ${Math.round(b.ms)} ms: ${b.binary}`);
  },
  { timeout: 10 * 60_000 },
);

/** Asserts go-spiffe accepted, showing what it said otherwise. */
function accepted(r: InteropResult): any {
  assert.equal(r.code, 0, `go-spiffe rejected it:\n${r.stderr}`);
  assert.ok(r.json, `no JSON on stdout: ${r.stdout}`);
  return r.json;
}

function rejected(r: InteropResult, reason: RegExp): void {
  assert.equal(r.code, 1, `go-spiffe should have rejected it, but said:\n${r.stdout}${r.stderr}`);
  assert.match(r.stderr, reason);
}

/** Runs `--once` and returns the cert dir. */
async function helperOnce(dir: string, a: DevAgent, extra = ''): Promise<string> {
  const r = await runCli(['--config', writeConfig(dir, a.address, extra), '--once', '--timeout', '20s']);
  assert.equal(r.code, 0, r.stderr);
  return join(dir, 'certs');
}

function loadArgs(certs: string, files: { svid?: string; key?: string; bundle?: string } = {}): string[] {
  return ['load', '--svid', join(certs, files.svid ?? 'svid.pem'), '--key', join(certs, files.key ?? 'svid_key.pem'), '--bundle', join(certs, files.bundle ?? 'bundle.pem'), '--trust-domain', TD];
}

test('go-spiffe workloadapi client against the dev agent: X.509 context, bundles, JWT, streamed rotations', { timeout: 60_000 }, async () => {
  const dir = tempDir('gi-');
  const a = await agent(dir, {
    intermediate: true,
    federatedTrustDomains: [PARTNER],
    svidTtlSeconds: 4,
    identities: [
      { spiffeId: `spiffe://${TD}/workload`, hint: 'internal' },
      { spiffeId: `spiffe://${TD}/other`, hint: 'external' },
    ],
  });
  // 3 updates: the initial state, then two rotations (every 2 s at a 4 s TTL).
  const out = accepted(await runInterop(['watch', '--addr', a.address, '--audience', AUDIENCE, '--count', '3', '--timeout', '20s']));

  const x = out.x509_context;
  assert.equal(x.spiffe_id, `spiffe://${TD}/workload`, 'the default SVID is the first one');
  assert.equal(x.hint, 'internal');
  assert.equal(x.svid_count, 2);
  assert.equal(x.chain_length, 2, 'leaf + intermediate');
  assert.deepEqual(x.bundle_cert_counts, { [TD]: 1, [PARTNER]: 1 }, 'own and federated bundles in the X.509 context');
  assert.deepEqual(out.x509_bundle_cert_counts, { [TD]: 1, [PARTNER]: 1 });
  assert.deepEqual(out.jwt_bundle_key_counts, { [TD]: 1, [PARTNER]: 1 });

  assert.equal(out.jwt_svid.spiffe_id, `spiffe://${TD}/workload`);
  assert.equal(out.jwt_svid.hint, 'internal');
  assert.deepEqual(out.jwt_svid.audience, [AUDIENCE]);
  assert.equal(out.jwt_svid.validated_by_agent, `spiffe://${TD}/workload`, 'ValidateJWTSVID answered by the dev agent');
  assert.equal(out.jwt_svid.validated_locally, `spiffe://${TD}/workload`, 'go-spiffe verified it with the fetched JWT bundles');

  assert.ok(out.updates.length >= 3, `${out.updates.length} updates`);
  const serials = new Set(out.updates.map((u: any) => u.serial));
  assert.equal(serials.size, out.updates.length, `every update is a new SVID: ${[...serials].join(', ')}`);
  for (const u of out.updates) {
    assert.equal(u.spiffe_id, `spiffe://${TD}/workload`);
    assert.deepEqual(u.bundle_cert_counts, { [TD]: 1, [PARTNER]: 1 });
  }
  assert.deepEqual(out.watch_errors, [], 'no stream error while watching');
  for (const call of a.calls) assert.equal(call.metadata['workload.spiffe.io'], 'true');
});

for (const addIntermediates of [false, true]) {
  for (const includeFederated of [false, true]) {
    test(`helper files load and verify with go-spiffe (add_intermediates_to_bundle=${addIntermediates}, include_federated_domains=${includeFederated})`, { timeout: 60_000 }, async () => {
      const dir = tempDir('gi-');
      const a = await agent(dir, { intermediate: true, federatedTrustDomains: [PARTNER] });
      const certs = await helperOnce(
        dir,
        a,
        `add_intermediates_to_bundle = ${addIntermediates}\ninclude_federated_domains = ${includeFederated}\nfederated_bundle_file_name = "federated_{trust_domain}.pem"\n`,
      );
      const out = accepted(await runInterop([...loadArgs(certs), '--federated', `${PARTNER}=${join(certs, `federated_${PARTNER}.pem`)}`]));
      assert.equal(out.spiffe_id, `spiffe://${TD}/workload`);
      assert.equal(out.chain_length, addIntermediates ? 1 : 2);
      // root, + the intermediate moved over, + the partner's root
      assert.equal(out.bundle_cert_count, 1 + (addIntermediates ? 1 : 0) + (includeFederated ? 1 : 0));
      // Go verifies up to whatever anchor the bundle holds: the intermediate, when it is there.
      assert.equal(out.verified_chain_length, addIntermediates ? 2 : 3);
      assert.deepEqual(out.federated_bundle_cert_counts, { [PARTNER]: 1 });
    });
  }
}

for (const keyType of keyTypes) {
  test(`helper files with a ${keyType} key load and verify with go-spiffe`, { timeout: 60_000 }, async () => {
    const dir = tempDir('gi-');
    const a = await agent(dir, { keyType, intermediate: true });
    const out = accepted(await runInterop(loadArgs(await helperOnce(dir, a))));
    assert.equal(out.spiffe_id, `spiffe://${TD}/workload`);
    assert.equal(out.verified_chain_length, 3);
  });
}

test('a combined key+chain file (svid_file_name = svid_key_file_name) loads with go-spiffe', { timeout: 60_000 }, async () => {
  const dir = tempDir('gi-');
  const a = await agent(dir, { intermediate: true });
  const config = join(dir, 'helper.conf');
  writeFileSync(
    config,
    `agent_address = "${a.address}"\ncert_dir = "${join(dir, 'certs')}"\nsvid_file_name = "combined.pem"\nsvid_key_file_name = "combined.pem"\nsvid_bundle_file_name = "bundle.pem"\n`,
  );
  const r = await runCli(['--config', config, '--once', '--timeout', '20s']);
  assert.equal(r.code, 0, r.stderr);
  const out = accepted(await runInterop(loadArgs(join(dir, 'certs'), { svid: 'combined.pem', key: 'combined.pem' })));
  assert.equal(out.chain_length, 2);
});

test('negative controls: go-spiffe rejects a corrupted key, a key of another SVID, and a foreign bundle', { timeout: 60_000 }, async () => {
  const dirA = tempDir('gi-');
  const dirB = tempDir('gi-');
  const certsA = await helperOnce(dirA, await agent(dirA, { intermediate: true }));
  const certsB = await helperOnce(dirB, await agent(dirB, { intermediate: true }));
  // Both pass as written: what fails below fails for the planted fault alone.
  accepted(await runInterop(loadArgs(certsA)));
  accepted(await runInterop(loadArgs(certsB)));

  // The key of another run (same trust domain, same SPIFFE ID, different key pair).
  copyFileSync(join(certsB, 'svid_key.pem'), join(certsA, 'other_key.pem'));
  rejected(await runInterop(loadArgs(certsA, { key: 'other_key.pem' })), /leaf certificate does not match private key/);

  // A bundle from another CA of the same trust domain: the chain does not verify.
  copyFileSync(join(certsB, 'bundle.pem'), join(certsA, 'other_bundle.pem'));
  rejected(await runInterop(loadArgs(certsA, { bundle: 'other_bundle.pem' })), /could not verify leaf certificate: x509: certificate signed by unknown authority/);

  // A corrupted key: one base64 character of the PEM body changed.
  const pem = readFileSync(join(certsA, 'svid_key.pem'), 'utf8');
  const lines = pem.split('\n');
  const i = Math.min(2, lines.length - 3);
  const line = lines[i]!;
  lines[i] = line.slice(0, 10) + (line[10] === 'A' ? 'B' : 'A') + line.slice(11);
  writeFileSync(join(certsA, 'bad_key.pem'), lines.join('\n'));
  rejected(await runInterop(loadArgs(certsA, { key: 'bad_key.pem' })), /cannot parse PEM encoded private key|does not match private key/);

  // The bundle loaded as another trust domain's: it cannot vouch for an example.org SVID.
  const r = await runInterop([...loadArgs(certsA).slice(0, -1), 'elsewhere.test']);
  rejected(r, /no X\.509 bundle found for trust domain: "example\.org"/);
});

/** Runs `--once` with one JWT-SVID output (and `extra`), and returns the cert dir. */
async function helperJwtOnce(dir: string, a: DevAgent, extra: string): Promise<string> {
  const r = await runCli(['--config', writeConfig(dir, a.address, `${extra}[[jwt_svids]]\njwt_audience = "${AUDIENCE}"\njwt_svid_file_name = "jwt_svid.token"\n`), '--once', '--timeout', '20s']);
  assert.equal(r.code, 0, r.stderr);
  return join(dir, 'certs');
}

for (const jwtAlg of ['ES256', 'RS256'] as const) {
  test(`helper JWT-SVID file (${jwtAlg}) and Go-helper-format JWT bundle file validate with go-spiffe`, { timeout: 60_000 }, async () => {
    const dir = tempDir('gi-');
    const a = await agent(dir, { intermediate: true, federatedTrustDomains: [PARTNER], jwtAlg });
    const certs = await helperJwtOnce(dir, a, 'jwt_bundle_file_name = "jwt_bundle.json"\n');
    const jwtArgs = (token: string, audience: string): string[] => [...loadArgs(certs), '--jwt-bundle', join(certs, 'jwt_bundle.json'), '--jwt-token', token, '--audience', audience];
    const out = accepted(await runInterop(jwtArgs(join(certs, 'jwt_svid.token'), AUDIENCE)));
    assert.deepEqual(out.jwt_bundle_key_counts, { [TD]: 1, [PARTNER]: 1 }, 'own and federated JWT bundles');
    assert.equal(out.jwt_subject, `spiffe://${TD}/workload`);
    assert.deepEqual(out.jwt_audience, [AUDIENCE]);
    assert.ok(new Date(out.jwt_expiry).getTime() > Date.now());

    // Negative controls: the wrong audience, and a token whose signature was tampered with.
    rejected(await runInterop(jwtArgs(join(certs, 'jwt_svid.token'), 'someone-else')), /expected audience/);
    const token = readFileSync(join(certs, 'jwt_svid.token'), 'utf8');
    const at = token.lastIndexOf('.') + 5;
    writeFileSync(join(dir, 'bad.token'), token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1));
    rejected(await runInterop(jwtArgs(join(dir, 'bad.token'), AUDIENCE)), /unable to get claims from token/);
  });
}

test('helper JWT bundle files in jwt_bundle_format = "jwks" load with go-spiffe jwtbundle.Load', { timeout: 60_000 }, async () => {
  const dir = tempDir('gi-');
  const a = await agent(dir, { federatedTrustDomains: [PARTNER] });
  const certs = await helperJwtOnce(dir, a, 'jwt_bundle_format = "jwks"\njwt_bundle_file_name = "jwt_bundle_{trust_domain}.json"\n');
  const out = accepted(
    await runInterop([
      ...loadArgs(certs),
      '--jwt-jwks',
      `${TD}=${join(certs, `jwt_bundle_${TD}.json`)}`,
      '--jwt-jwks',
      `${PARTNER}=${join(certs, `jwt_bundle_${PARTNER}.json`)}`,
      '--jwt-token',
      join(certs, 'jwt_svid.token'),
      '--audience',
      AUDIENCE,
    ]),
  );
  assert.deepEqual(out.jwt_bundle_key_counts, { [TD]: 1, [PARTNER]: 1 });
  assert.equal(out.jwt_subject, `spiffe://${TD}/workload`);
});

// Path validation, second opinion: go-spiffe's x509svid.Verify (Go's crypto/x509) on the very
// chains our verification accepts or refuses (test/helpers/chain-cases.ts). Where the two
// differ, the case says so and why: a 60 s notBefore allowance (Go has none), a bundle must
// hold CAs only (Go ignores a non-CA it does not chain through), and the encodings Go reads
// leniently but DER, RFC 5280 and other peers do not (test/helpers/der-cases.ts).
for (const c of [...chainCases, ...derCases]) {
  const same = (c.goSpiffe === 'accepts') === (c.reason === undefined);
  test(`go-spiffe ${c.goSpiffe}${same ? ', as we do' : ', where we differ'}: ${c.name} (ours: ${c.reason ?? 'verifies'})`, { timeout: 60_000 }, async () => {
    const dir = tempDir('gi-');
    const made = await c.make();
    const pem = (ders: Buffer[]) => ders.map((d) => toPem('CERTIFICATE', d)).join('');
    writeFileSync(join(dir, 'svid.pem'), pem(made.chain));
    writeFileSync(join(dir, 'svid_key.pem'), toPem('PRIVATE KEY', made.keyDer));
    writeFileSync(join(dir, 'bundle.pem'), pem(made.bundle));
    const r = await runInterop(loadArgs(dir));
    if (c.goSpiffe === 'accepts') accepted(r);
    else rejected(r, /x509svid|x509|certificate|signature|verify/i);
  });
}

test('go-spiffe, like the helper, accepts an empty federated bundle (its PR #288): no CA of the partner', { timeout: 60_000 }, async () => {
  const dir = tempDir('gi-');
  const a = await agent(dir, { federatedTrustDomains: [PARTNER] });
  const cur = a.current()!;
  a.pushX509({ ...cur, federated_bundles: { [`spiffe://${PARTNER}`]: Buffer.alloc(0) } });
  const out = accepted(await runInterop(['watch', '--addr', a.address, '--count', '1', '--timeout', '20s']));
  assert.deepEqual(out.x509_context.bundle_cert_counts, { [TD]: 1, [PARTNER]: 0 });
  const certs = await helperOnce(dir, a, `federated_bundle_file_name = "federated_{trust_domain}.pem"\n`);
  assert.equal(existsSync(join(certs, `federated_${PARTNER}.pem`)), false);
});

// JWT-SVID and JWKS encodings, second opinion: go-spiffe's jwtbundle.Parse and
// jwtsvid.ParseAndValidate on the very tokens and JWKS of test/helpers/jwt-cases.ts. Where the
// verdict or the number of keys kept differs, the case says why we follow the standard.
// Made here, not in a test: a temp dir made in a test is removed when that test ends.
const jwtCaseDir = tempDir('gi-');
let jwtCaseCerts: Promise<string> | undefined;
for (const c of jwtCases) {
  test(`go-spiffe on the jwt case ${c.goSpiffeDiffers ? 'differs' : 'agrees'}: ${c.name}`, { timeout: 60_000 }, async () => {
    // Any valid X.509 SVID: the load mode verifies one before it reads JWT material.
    jwtCaseCerts ??= agent(jwtCaseDir).then((a) => helperOnce(jwtCaseDir, a));
    const certs = await jwtCaseCerts;
    const dir = tempDir('gj-');
    const { token, jwks } = await c.make();
    writeFileSync(join(dir, 'token'), token);
    writeFileSync(join(dir, 'jwks.json'), jwks);
    let oursKeys: number;
    let written: string | undefined;
    try {
      const bundle = parseJwtBundle(TrustDomain.parse(CASE_TD), jwks);
      oursKeys = bundle.keys.size;
      written = JSON.stringify(jwtBundleToJwks(bundle));
      parseAndValidateJwtSvid(token, { audience: CASE_AUDIENCE, bundles: new Map([[CASE_TD, bundle]]) });
    } catch {
      oursKeys = -1;
    }
    const r = await runInterop([...loadArgs(certs), '--jwt-jwks', `${CASE_TD}=${join(dir, 'jwks.json')}`, '--jwt-token', join(dir, 'token'), '--audience', CASE_AUDIENCE]);
    const goKeys = r.code === 0 ? r.json.jwt_bundle_key_counts[CASE_TD] : -1;
    const verdicts = `ours: ${oursKeys < 0 ? 'refused' : `accepted, ${oursKeys} keys`}; go-spiffe: ${goKeys < 0 ? `refused (${r.stderr.trim()})` : `accepted, ${goKeys} keys`}`;
    assert.equal(oursKeys < 0, c.refused !== undefined || c.bundleRefused !== undefined, verdicts);
    if (c.goSpiffeDiffers) assert.notEqual(goKeys, oursKeys, `the case says go-spiffe differs (${c.goSpiffeDiffers}), but ${verdicts}`);
    else assert.equal(goKeys, oursKeys, verdicts);
    if (written === undefined) return;
    // What we keep is what we write (jwt_bundle_file_name): Go workloads must read all of it.
    writeFileSync(join(dir, 'written.json'), written);
    const w = await runInterop([...loadArgs(certs), '--jwt-jwks', `${CASE_TD}=${join(dir, 'written.json')}`]);
    assert.equal(w.code, 0, `go-spiffe cannot read the JWKS we would write: ${w.stderr}`);
    assert.equal(w.json.jwt_bundle_key_counts[CASE_TD], JSON.parse(written).keys.length);
  });
}
