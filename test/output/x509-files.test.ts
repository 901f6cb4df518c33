import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger, silentLogger } from '../../src/log.js';
import { parseX509Bundle } from '../../src/spiffe/bundle.js';
import { parseCertificate } from '../../src/spiffe/certificate.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { fromPem } from '../../src/spiffe/pem.js';
import { parseX509Svid } from '../../src/spiffe/x509svid.js';
import { X509Writer } from '../../src/output/x509-writer.js';
import type { X509Context } from '../../src/spiffe/x509context.js';
import { issue, svidChain } from '../helpers/certs.js';
import { tempDir } from '../helpers/tmp.js';
import { outputsIn, x509Output } from './fixtures/x509-output.js';

const ID = 'spiffe://example.org/workload';

const out = x509Output;

async function context(o: { federated?: string[]; hints?: string[]; expiredCa?: boolean } = {}) {
  const c = await svidChain(ID, { intermediate: true });
  const svids = (o.hints ?? ['']).map((hint) => parseX509Svid({ spiffeId: ID, chainDer: c.chainDer, keyDer: c.leaf.keyDer, hint }));
  const td = TrustDomain.parse('example.org');
  const expired = o.expiredCa ? [await issue({ ca: true, notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) })] : [];
  const bundles = new Map([['example.org', parseX509Bundle(td, Buffer.concat([c.root.der, ...expired.map((e) => e.der)]))]]);
  const federatedBundles = new Map(await Promise.all((o.federated ?? []).map(async (name) => [name, parseX509Bundle(TrustDomain.parse(name), (await issue({ ca: true, name })).der)] as const)));
  const ctx: X509Context = { svids, bundles, federatedBundles, emptyFederatedDomains: [], ignoredFederated: [] };
  return { ctx, chain: c };
}

const certsIn = (path: string) => fromPem(readFileSync(path, 'utf8'), 'CERTIFICATE').map((d) => new X509Certificate(d));
const mode = (path: string) => statSync(path).mode & 0o777;

test('writes leaf+intermediates, the PKCS#8 key and the own trust domain bundle with their modes', async () => {
  const dir = tempDir();
  const { ctx, chain } = await context();
  assert.equal(await new X509Writer(out(), dir, silentLogger).apply(ctx), true, 'written');
  assert.deepEqual(
    certsIn(join(dir, 'svid.pem')).map((c) => c.serialNumber),
    [chain.leaf.cert.serialNumber.toUpperCase(), chain.inter!.cert.serialNumber.toUpperCase()],
  );
  assert.deepEqual(
    certsIn(join(dir, 'bundle.pem')).map((c) => c.serialNumber),
    [chain.root.cert.serialNumber.toUpperCase()],
  );
  const key = readFileSync(join(dir, 'svid_key.pem'), 'utf8');
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.deepEqual(fromPem(key, 'PRIVATE KEY')[0], chain.leaf.keyDer);
  assert.equal(mode(join(dir, 'svid.pem')), 0o644);
  assert.equal(mode(join(dir, 'bundle.pem')), 0o644);
  assert.equal(mode(join(dir, 'svid_key.pem')), 0o600);
  assert.deepEqual(readdirSync(dir).sort(), ['bundle.pem', 'svid.pem', 'svid_key.pem'], 'no temporary file is left behind');
});

test('custom modes are applied whatever the umask', async () => {
  const dir = tempDir();
  const { ctx } = await context();
  const old = process.umask(0o077);
  try {
    await new X509Writer(out({ certFileMode: 0o640, keyFileMode: 0o400 }), dir, silentLogger).apply(ctx);
  } finally {
    process.umask(old);
  }
  assert.equal(mode(join(dir, 'svid.pem')), 0o640);
  assert.equal(mode(join(dir, 'svid_key.pem')), 0o400);
});

test('a pre-existing key file with mode 0644 ends 0600', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'svid_key.pem'), 'old', { mode: 0o644 });
  await new X509Writer(out(), dir, silentLogger).apply((await context()).ctx);
  assert.equal(mode(join(dir, 'svid_key.pem')), 0o600);
});

test('add_intermediates_to_bundle moves intermediates from the svid file to the bundle', async () => {
  const dir = tempDir();
  const { ctx, chain } = await context();
  await new X509Writer(out({ addIntermediatesToBundle: true }), dir, silentLogger).apply(ctx);
  assert.deepEqual(
    certsIn(join(dir, 'svid.pem')).map((c) => c.subject),
    [chain.leaf.cert.subject],
  );
  assert.deepEqual(
    certsIn(join(dir, 'bundle.pem')).map((c) => c.subject),
    [chain.root.cert.subject, chain.inter!.cert.subject],
  );
});

test('include_federated_domains appends federated CAs, sorted by trust domain', async () => {
  const dir = tempDir();
  const { ctx } = await context({ federated: ['zeta.org', 'alpha.org'] });
  await new X509Writer(out({ includeFederatedDomains: true }), dir, silentLogger).apply(ctx);
  assert.deepEqual(
    certsIn(join(dir, 'bundle.pem')).map((c) => c.subject),
    ['CN=example.org root', 'CN=alpha.org', 'CN=zeta.org'],
  );
});

test('federated bundles are left out of the bundle file by default', async () => {
  const dir = tempDir();
  await new X509Writer(out(), dir, silentLogger).apply((await context({ federated: ['alpha.org'] })).ctx);
  assert.equal(certsIn(join(dir, 'bundle.pem')).length, 1);
});

test('federated_bundle_file_name writes one file per domain and removes domains that disappear', async () => {
  const dir = tempDir();
  const writer = new X509Writer(out({ federatedBundleFileName: 'fed_{trust_domain}.pem' }), dir, silentLogger);
  await writer.apply((await context({ federated: ['alpha.org', 'beta.org'] })).ctx);
  assert.deepEqual(
    certsIn(join(dir, 'fed_alpha.org.pem')).map((c) => c.subject),
    ['CN=alpha.org'],
  );
  assert.deepEqual(
    certsIn(join(dir, 'fed_beta.org.pem')).map((c) => c.subject),
    ['CN=beta.org'],
  );
  await writer.apply((await context({ federated: ['beta.org'] })).ctx);
  assert.deepEqual(outputsIn(dir), ['bundle.pem', 'fed_beta.org.pem', 'svid.pem', 'svid_key.pem']);
});

test('omit_expired drops expired CA certificates', async () => {
  const dir = tempDir();
  const { ctx } = await context({ expiredCa: true });
  await new X509Writer(out(), dir, silentLogger).apply(ctx);
  assert.equal(certsIn(join(dir, 'bundle.pem')).length, 2);
  const dir2 = tempDir();
  await new X509Writer(out({ omitExpired: true }), dir2, silentLogger).apply(ctx);
  assert.equal(certsIn(join(dir2, 'bundle.pem')).length, 1);
});

test('omit_expired also drops expired intermediates from the SVID chain written (svid.pem, and the bundle with add_intermediates_to_bundle), as the Go helper does', async () => {
  const { ctx, chain } = await context();
  const expired = parseCertificate((await issue({ ca: true, name: 'old intermediate', notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) })).der);
  const svid = { ...ctx.svids[0]!, certificates: [...ctx.svids[0]!.certificates, expired] };
  const withExpired: X509Context = { ...ctx, svids: [svid] };
  const serials = (path: string) => certsIn(path).map((c) => c.serialNumber);
  const live = [chain.leaf.cert.serialNumber.toUpperCase(), chain.inter!.cert.serialNumber.toUpperCase()];
  const cases = [
    { name: 'kept without omit_expired', o: {}, svidPem: [...live, expired.serial.toUpperCase()] },
    { name: 'dropped with omit_expired', o: { omitExpired: true }, svidPem: live },
  ];
  for (const c of cases) {
    const dir = tempDir();
    await new X509Writer(out(c.o), dir, silentLogger).apply(withExpired);
    assert.deepEqual(serials(join(dir, 'svid.pem')), c.svidPem, c.name);
  }
  const dir = tempDir();
  await new X509Writer(out({ omitExpired: true, addIntermediatesToBundle: true }), dir, silentLogger).apply(withExpired);
  assert.deepEqual(serials(join(dir, 'svid.pem')), [live[0]]);
  assert.equal(serials(join(dir, 'bundle.pem')).includes(expired.serial.toUpperCase()), false, 'the expired intermediate is not moved into the bundle either');
});

test('hint selects the SVID; an unknown hint is an error and nothing is written', async () => {
  const dir = tempDir();
  const { ctx } = await context({ hints: ['external', 'internal'] });
  const writer = new X509Writer(out({ hint: 'internal' }), dir, silentLogger);
  const update = writer.prepare(ctx);
  assert.equal(update.svid.hint, 'internal');
  assert.equal(await writer.write(update), true);
  const dir2 = tempDir();
  await assert.rejects(new X509Writer(out({ hint: 'nope' }), dir2, silentLogger).apply(ctx), /no SVID has hint "nope" \(the agent sent hints: "external", "internal"\)/);
  assert.deepEqual(readdirSync(dir2), []);
});

test('svid_file_name equal to svid_key_file_name writes key and chain into one file with the key mode', async () => {
  const dir = tempDir();
  const { ctx } = await context();
  await new X509Writer(out({ keyFileName: 'svid.pem', certFileMode: 0o644, keyFileMode: 0o600 }), dir, silentLogger).apply(ctx);
  const text = readFileSync(join(dir, 'svid.pem'), 'utf8');
  assert.equal(fromPem(text, 'PRIVATE KEY').length, 1);
  assert.equal(fromPem(text, 'CERTIFICATE').length, 2);
  assert.equal(mode(join(dir, 'svid.pem')), 0o600);
  assert.deepEqual(readdirSync(dir).sort(), ['bundle.pem', 'svid.pem']);
});

test('an identical update writes nothing', async () => {
  const dir = tempDir();
  const { ctx } = await context();
  const writer = new X509Writer(out(), dir, silentLogger);
  await writer.apply(ctx);
  const before = statSync(join(dir, 'svid.pem')).ino;
  assert.equal(await writer.apply(ctx), false, 'nothing written');
  assert.equal(statSync(join(dir, 'svid.pem')).ino, before);
});

test('an unwritable directory fails with an output error and leaves the old files and no temporaries', async () => {
  const dir = tempDir();
  const { ctx } = await context();
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  const writer = new X509Writer(out({ bundleFileName: 'sub/bundle.pem' }), certDir, silentLogger);
  await assert.rejects(
    writer.apply(ctx),
    (e) => (e as { code?: string }).code === 'output' && /cannot write bundle\.pem .*directory does not exist; the previous files are unchanged/.test((e as Error).message),
  );
  assert.deepEqual(readdirSync(certDir), [], 'no file of the set was renamed into place, and no temporary leaked');
});

// Trust domain names come from the agent and are valid SPIFFE names, yet some make bad file
// names: that domain gets no per-domain file, said once, and the update (the workload's own
// rotation) is written. Refusing it would let a partner's name stop the rotation.
const badNames: [string, string, string, RegExp][] = [
  ['"." under ".{trust_domain}" makes ".."', '.{trust_domain}', '.', /would be written as "\.\.", which is "\.\.", not a file name/],
  ['".data" under ".{trust_domain}" makes "..data"', '.{trust_domain}', '.data', /"\.\.data", which starts with "\.\.", which is reserved/],
  ['a name too long for its temporary', 'fed_{trust_domain}.pem', `${'a'.repeat(240)}.org`, /is longer than 217 bytes/],
];
for (const layout of ['files', 'atomic_dir'] as const) {
  for (const [name, pattern, td, re] of badNames) {
    test(`a federated trust domain that would make a bad file name gets no file; the update is written (${layout}): ${name}`, async () => {
      const dir = tempDir();
      const lines: string[] = [];
      const writer = new X509Writer(out({ layout, federatedBundleFileName: pattern }), dir, createLogger({ format: 'json', write: (l) => lines.push(l) }));
      await writer.apply((await context()).ctx);
      const before = readFileSync(join(dir, 'svid.pem'), 'utf8');
      const update = await context({ federated: [td, 'good.org'] });
      assert.equal(await writer.apply(update.ctx), true, 'the update is written');
      assert.notEqual(readFileSync(join(dir, 'svid.pem'), 'utf8'), before, 'the new SVID is on disk');
      const fed = outputsIn(dir).filter((f) => f !== 'bundle.pem' && f !== 'svid.pem' && f !== 'svid_key.pem');
      assert.deepEqual(fed, [pattern.replace('{trust_domain}', 'good.org')], 'only the good domain has a file');
      const warnings = () => lines.map((l) => JSON.parse(l) as { level: string; msg: string; why?: string }).filter((l) => l.level === 'warn' && /^no federated bundle file/.test(l.msg));
      assert.equal(warnings().length, 1);
      assert.match(warnings()[0]!.why!, re);
      await writer.apply((await context({ federated: [td, 'good.org'] })).ctx);
      assert.equal(warnings().length, 1, 'said once, not per update');
    });
  }
}

test('stale per-domain cleanup removes only what the helper would have written', async () => {
  const dir = tempDir();
  const writer = new X509Writer(out({ federatedBundleFileName: 'fed_{trust_domain}.pem' }), dir, silentLogger);
  await writer.apply((await context({ federated: ['alpha.org', 'gone.org'] })).ctx);
  const theirs = ['fed_NOTES.pem', 'fed_a b.pem', 'fed_link.org.pem', 'fed_dir.org.pem'];
  writeFileSync(join(dir, theirs[0]!), 'a user file that shares the prefix and suffix');
  writeFileSync(join(dir, theirs[1]!), 'not a trust domain name');
  symlinkSync('/etc/hostname', join(dir, theirs[2]!));
  mkdirSync(join(dir, theirs[3]!));
  await writer.apply((await context({ federated: ['alpha.org'] })).ctx);
  assert.deepEqual(outputsIn(dir), ['bundle.pem', 'fed_alpha.org.pem', ...theirs, 'svid.pem', 'svid_key.pem'].sort());
});

// Clean-up removes only what it can prove the helper wrote: a file it recorded writing (in the
// reserved `..` namespace of cert_dir, so across restarts too) whose content is still what it
// wrote. Anything else matching the pattern is somebody else's.
describe('per-domain clean-up removes only files the helper wrote, unchanged since', () => {
  test("a user's file named for a trust domain never seen is kept", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'fed_never.org.pem'), 'the operator put this here');
    const writer = new X509Writer(out({ federatedBundleFileName: 'fed_{trust_domain}.pem' }), dir, silentLogger);
    await writer.apply((await context({ federated: ['alpha.org'] })).ctx);
    await writer.apply((await context()).ctx);
    assert.equal(readFileSync(join(dir, 'fed_never.org.pem'), 'utf8'), 'the operator put this here');
    assert.ok(!existsSync(join(dir, 'fed_alpha.org.pem')), 'what the helper wrote went');
  });

  test('a file of a domain federated, then gone while the helper was stopped, is removed by the next run', async () => {
    const dir = tempDir();
    const o = out({ federatedBundleFileName: 'fed_{trust_domain}.pem' });
    await new X509Writer(o, dir, silentLogger).apply((await context({ federated: ['alpha.org', 'gone.org'] })).ctx);
    await new X509Writer(o, dir, silentLogger).apply((await context({ federated: ['alpha.org'] })).ctx);
    assert.deepEqual(outputsIn(dir), ['bundle.pem', 'fed_alpha.org.pem', 'svid.pem', 'svid_key.pem']);
  });

  test('a file the helper wrote but someone changed since is kept', async () => {
    const dir = tempDir();
    const writer = new X509Writer(out({ federatedBundleFileName: 'fed_{trust_domain}.pem' }), dir, silentLogger);
    await writer.apply((await context({ federated: ['alpha.org', 'gone.org'] })).ctx);
    writeFileSync(join(dir, 'fed_gone.org.pem'), 'pinned by the operator');
    await writer.apply((await context({ federated: ['alpha.org'] })).ctx);
    assert.equal(readFileSync(join(dir, 'fed_gone.org.pem'), 'utf8'), 'pinned by the operator');
  });
});

test('file_layout switched from atomic_dir to files: the first write removes ..data, the version directories (old private keys) and links of names gone; nothing else', async () => {
  const dir = tempDir();
  await new X509Writer(out({ layout: 'atomic_dir', federatedBundleFileName: 'fed_{trust_domain}.pem' }), dir, silentLogger).apply((await context({ federated: ['gone.org'] })).ctx);
  mkdirSync(join(dir, '..2026_01_01_00_00_00.not-ours'));
  writeFileSync(join(dir, '..keep.pem'), 'not a version directory');
  const writer = new X509Writer(out(), dir, silentLogger);
  await writer.apply((await context()).ctx);
  assert.deepEqual(readdirSync(dir).sort(), ['..2026_01_01_00_00_00.not-ours', '..keep.pem', 'bundle.pem', 'svid.pem', 'svid_key.pem']);
  assert.ok(statSync(join(dir, 'svid_key.pem')).isFile());
});

test('a FIFO planted at the record of per-domain files written neither blocks the helper nor is trusted', { timeout: 20_000 }, async () => {
  const dir = tempDir();
  const writer = new X509Writer(out({ federatedBundleFileName: 'fed_{trust_domain}.pem' }), dir, silentLogger);
  await writer.apply((await context({ federated: ['alpha.org'] })).ctx);
  const record = readdirSync(dir).find((n) => n.startsWith('..spiffe-helper.written.'))!;
  rmSync(join(dir, record));
  execFileSync('mkfifo', [join(dir, record)]);
  await writer.apply((await context({ federated: ['beta.org'] })).ctx);
  assert.ok(existsSync(join(dir, 'fed_alpha.org.pem')), 'not proven (the record was not readable): kept');
  assert.ok(statSync(join(dir, record)).isFile(), 'the record is a file again');
});
