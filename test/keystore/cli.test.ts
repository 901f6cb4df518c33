import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { readPkcs12 } from '../../src/keystore/read.js';
import { cliPath, runCli, startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';
import { jdks, keytoolList } from './java.js';

/**
 * The helper as users run it, on the dev agent: the daemon writes the keystore and truststore
 * with the PEM files, a rotation rewrites them (keytool reads the new ones), and the agent
 * re-sending the same state rewrites nothing and signals nobody.
 */

const PASSWORD = 'changeit';
const STORES = ['keystore.p12', 'truststore.p12'];
const ALL = ['svid.pem', 'svid_key.pem', 'bundle.pem', ...STORES];
const JDK = jdks()[0];

function storeConfig(dir: string, address: string, extra = ''): string {
  writeFileSync(join(dir, 'pw'), `${PASSWORD}\n`);
  return writeConfig(dir, address, `keystore_file_name = "keystore.p12"\ntruststore_file_name = "truststore.p12"\nkeystore_password_file = "${join(dir, 'pw')}"\n${extra}`);
}

/** Inode, mtime and bytes of each output: what "rewrote nothing" compares. */
function snapshot(dir: string): string[] {
  return ALL.map((f) => {
    const p = join(dir, 'certs', f);
    const st = statSync(p);
    return `${f} ${st.ino} ${st.mtimeMs} ${readFileSync(p).toString('base64')}`;
  });
}

const serialOfPem = (dir: string): string => {
  try {
    return new X509Certificate(readFileSync(join(dir, 'certs', 'svid.pem'))).serialNumber;
  } catch {
    return '';
  }
};
const serialOfKeystore = (dir: string): string => {
  try {
    return readPkcs12(readFileSync(join(dir, 'certs', 'keystore.p12')), PASSWORD).keys[0]!.chain[0]!.serialNumber;
  } catch {
    return '';
  }
};
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
/** keytool prints serials in lower-case hex without leading zeros. */
const keytoolSerial = (hex: string): string => BigInt(`0x${hex}`).toString(16);

async function stop(run: Running): Promise<void> {
  run.child.kill('SIGTERM');
  await run.result;
}

describe('the daemon writes the stores with the X.509 files', () => {
  it('the machine has a JDK', () => assert.ok(JDK, 'no keytool on PATH or under /usr/lib/jvm'));
  for (const layout of ['files', 'atomic_dir']) {
    it(`file_layout ${layout}: modes, keytool reads them, rotation rewrites them, an identical re-send rewrites nothing and signals nobody`, async () => {
      const dir = tempDir('ksd-');
      const agent = await devAgent(dir, { svidTtlSeconds: 3600, intermediate: true });
      const child = `echo up >> ${dir}/child.log; trap 'echo hup >> ${dir}/hup.log' HUP; while :; do sleep 0.05; done`;
      const run = startCli(['--config', storeConfig(dir, agent.address, `file_layout = "${layout}"\ncmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(child)}]\nrenew_signal = "SIGHUP"\n`)]);
      try {
        await waitFor('the child to start after the first write', () => lines(join(dir, 'child.log')).length === 1, 30_000);
        const first = serialOfPem(dir);
        assert.equal(serialOfKeystore(dir), first, 'the keystore holds the SVID of svid.pem');
        assert.equal(statSync(join(dir, 'certs', 'keystore.p12')).mode & 0o777, 0o600, 'the keystore holds a key: key_file_mode');
        assert.equal(statSync(join(dir, 'certs', 'truststore.p12')).mode & 0o777, 0o644, 'the truststore: cert_file_mode');
        if (layout === 'atomic_dir') {
          for (const f of STORES) assert.equal(readlinkSync(join(dir, 'certs', f)), `..data/${f}`, `${f} goes through ..data with the PEM files`);
        } else {
          for (const f of STORES) assert.ok(lstatSync(join(dir, 'certs', f)).isFile());
        }
        const ks = keytoolList(JDK!, join(dir, 'certs', 'keystore.p12'), PASSWORD);
        assert.match(ks, /Alias name: spiffe\nCreation date: .*\nEntry type: PrivateKeyEntry\nCertificate chain length: 2\n/);
        assert.match(keytoolList(JDK!, join(dir, 'certs', 'truststore.p12'), PASSWORD), /Alias name: example\.org-1\nCreation date: .*\nEntry type: trustedCertEntry\n/);

        const before = snapshot(dir);
        for (let i = 0; i < 5; i++) agent.pushX509(agent.current()!);
        await delay(1500);
        assert.deepEqual(snapshot(dir), before, 'no file was rewritten (inode, mtime, bytes)');
        assert.deepEqual(lines(join(dir, 'hup.log')), [], 'nobody was signalled');

        await agent.rotate();
        await waitFor('the rotation to reach the keystore and signal the child', () => serialOfKeystore(dir) !== first && lines(join(dir, 'hup.log')).length === 1, 30_000);
        const renewed = serialOfPem(dir);
        assert.notEqual(renewed, first);
        assert.equal(serialOfKeystore(dir), renewed, 'keystore and svid.pem rotate together');
        const serials = [...keytoolList(JDK!, join(dir, 'certs', 'keystore.p12'), PASSWORD).matchAll(/^Serial number: (\S+)$/gm)].map((m) => m[1]);
        assert.equal(serials[0], keytoolSerial(renewed), 'keytool reads the rotated keystore');
      } finally {
        await stop(run);
      }
    });
  }

  it('a one-shot with federated domains: the truststore names each domain', async () => {
    const dir = tempDir('ksd-');
    const agent = await devAgent(dir, { federatedTrustDomains: ['partner.org', 'alpha.test'] });
    const once = await runCli(['--config', storeConfig(dir, agent.address, 'truststore_include_federated_domains = true\n'), '--once']);
    assert.equal(once.code, 0, once.stderr);
    const trusted = readPkcs12(readFileSync(join(dir, 'certs', 'truststore.p12')), PASSWORD).trusted.map((t) => t.alias);
    assert.deepEqual(trusted, ['example.org-1', 'alpha.test-1', 'partner.org-1']);
    assert.doesNotMatch(once.stderr, new RegExp(PASSWORD), 'the password is never logged');
  });
});

/** A JVM-only sidecar: the stores and no PEM file (issue 16: each output optional). */
function storesOnlyConfig(dir: string, address: string, extra = ''): string {
  writeFileSync(join(dir, 'pw'), `${PASSWORD}\n`);
  const file = join(dir, 'helper.conf');
  writeFileSync(
    file,
    `agent_address = "${address}"\ncert_dir = "${join(dir, 'certs')}"\nkeystore_file_name = "keystore.p12"\ntruststore_file_name = "truststore.p12"\nkeystore_password_file = "${join(dir, 'pw')}"\n${extra}`,
  );
  return file;
}
/** What a stores-only run leaves in cert_dir, without atomic_dir's `..data` machinery. */
const outputs = (dir: string): string[] =>
  readdirSync(join(dir, 'certs'))
    .filter((f) => !f.startsWith('..'))
    .sort();
const storeSnapshot = (dir: string): string[] =>
  STORES.map((f) => {
    const st = statSync(join(dir, 'certs', f));
    return `${f} ${st.ino} ${st.mtimeMs} ${readFileSync(join(dir, 'certs', f)).toString('base64')}`;
  });

describe('the stores without the PEM files', () => {
  for (const layout of ['files', 'atomic_dir']) {
    it(`daemon, file_layout ${layout}: only keystore.p12 and truststore.p12 are written, keytool reads them, a rotation rewrites them and signals, an identical re-send does neither; health and metrics`, async () => {
      const dir = tempDir('kso-');
      const agent = await devAgent(dir, { svidTtlSeconds: 3600, intermediate: true });
      const child = `echo up >> ${dir}/child.log; trap 'echo hup >> ${dir}/hup.log' HUP; while :; do sleep 0.05; done`;
      const extra = `file_layout = "${layout}"\ncmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(child)}]\nrenew_signal = "SIGHUP"\n[health_checks]\nlistener_enabled = true\nbind_port = 0\nmetrics_enabled = true\n`;
      const run = startCli(['--config', storesOnlyConfig(dir, agent.address, extra)]);
      try {
        await waitFor('the child to start after the first write', () => lines(join(dir, 'child.log')).length === 1, 30_000);
        assert.deepEqual(outputs(dir), STORES, 'no svid.pem, svid_key.pem or bundle.pem');
        if (layout === 'atomic_dir') for (const f of STORES) assert.equal(readlinkSync(join(dir, 'certs', f)), `..data/${f}`);
        assert.equal(statSync(join(dir, 'certs', 'keystore.p12')).mode & 0o777, 0o600);
        const first = serialOfKeystore(dir);
        assert.match(keytoolList(JDK!, join(dir, 'certs', 'keystore.p12'), PASSWORD), /Alias name: spiffe\nCreation date: .*\nEntry type: PrivateKeyEntry\nCertificate chain length: 2\n/);
        assert.match(keytoolList(JDK!, join(dir, 'certs', 'truststore.p12'), PASSWORD), /Alias name: example\.org-1\nCreation date: .*\nEntry type: trustedCertEntry\n/);

        const port = Number((await waitFor('the health listener', () => /health listener started address=[\d.]+:(\d+)/.exec(run.stderr())))[1]);
        const ready = await fetch(`http://127.0.0.1:${port}/ready`);
        assert.equal(ready.status, 200);
        assert.equal(((await ready.json()) as { file_write_statuses: { x509_write_status?: string } }).file_write_statuses.x509_write_status, 'written');
        const rotations = async () => Number(/^spiffe_helper_rotations_total (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1]);
        const counted = await rotations();

        const before = storeSnapshot(dir);
        for (let i = 0; i < 5; i++) agent.pushX509(agent.current()!);
        await delay(1500);
        assert.deepEqual(storeSnapshot(dir), before, 'no store was rewritten (inode, mtime, bytes)');
        assert.deepEqual(lines(join(dir, 'hup.log')), [], 'nobody was signalled');

        await agent.rotate();
        await waitFor('the rotation to reach the keystore and signal the child', () => serialOfKeystore(dir) !== first && lines(join(dir, 'hup.log')).length === 1, 30_000);
        const serials = [...keytoolList(JDK!, join(dir, 'certs', 'keystore.p12'), PASSWORD).matchAll(/^Serial number: (\S+)$/gm)].map((m) => m[1]);
        assert.equal(serials[0], keytoolSerial(serialOfKeystore(dir)), 'keytool reads the rotated keystore');
        await waitFor('the rotation to be counted', async () => (await rotations()) === counted + 1);
        assert.deepEqual(outputs(dir), STORES, 'still no PEM file after the rotation');
      } finally {
        await stop(run);
      }
    });
  }

  it('--once: only the stores are written and keytool reads them', async () => {
    const dir = tempDir('kso-');
    const agent = await devAgent(dir);
    const once = await runCli(['--config', storesOnlyConfig(dir, agent.address), '--once']);
    assert.equal(once.code, 0, once.stderr);
    assert.deepEqual(outputs(dir), STORES);
    assert.match(keytoolList(JDK!, join(dir, 'certs', 'keystore.p12'), PASSWORD), /Entry type: PrivateKeyEntry/);
    assert.match(keytoolList(JDK!, join(dir, 'certs', 'truststore.p12'), PASSWORD), /Entry type: trustedCertEntry/);
  });

  it('inspect --config: the stores only, no PEM file looked for', async () => {
    const dir = tempDir('kso-');
    const agent = await devAgent(dir);
    const config = storesOnlyConfig(dir, agent.address);
    assert.equal((await runCli(['--config', config, '--once'])).code, 0);
    const r = await runCli(['inspect', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.x509_svid, undefined);
    assert.deepEqual(
      report.stores.map((s: { kind: string; integrity: string }) => [s.kind, s.integrity.split(' ')[0]]),
      [
        ['keystore', 'verified'],
        ['truststore', 'verified'],
      ],
    );
  });
});

describe('health and metrics cover the stores', () => {
  it('ready once the stores are written, file_write_statuses written; a deleted keystore makes it not ready; a rotation counts', async () => {
    const dir = tempDir('ksh-');
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const run = startCli(['--config', storeConfig(dir, agent.address, '[health_checks]\nlistener_enabled = true\nbind_port = 0\nmetrics_enabled = true\n')]);
    try {
      const port = Number((await waitFor('the health listener', () => /health listener started address=[\d.]+:(\d+)/.exec(run.stderr())))[1]);
      const ready = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/ready`);
        return { status: res.status, body: (await res.json()) as { not_ready?: string[]; file_write_statuses: { x509_write_status?: string } } };
      };
      const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1]);
      await waitFor('ready', async () => (await ready()).status === 200);
      assert.equal((await ready()).body.file_write_statuses.x509_write_status, 'written');
      const rotations = await metric('spiffe_helper_rotations_total');
      await agent.rotate();
      await waitFor('the rotation to be counted', async () => (await metric('spiffe_helper_rotations_total')) === rotations + 1);
      rmSync(join(dir, 'certs', 'keystore.p12'));
      const after = await ready();
      assert.equal(after.status, 503);
      assert.deepEqual(after.body.not_ready, ['x509 svid: keystore.p12 was deleted or replaced (or its content or mode changed) since the helper wrote it']);
    } finally {
      await stop(run);
    }
  });
});

describe('the PKCS#12 encoder loads only when a store is configured', () => {
  /** The bundle's modules a one-shot run loaded (recorded by a module hook). */
  async function loadedModules(extra: (dir: string, address: string) => string): Promise<string[]> {
    const dir = tempDir('ksl-');
    const agent = await devAgent(dir);
    const hook = join(dir, 'hook.cjs');
    const out = join(dir, 'loaded.json');
    writeFileSync(
      hook,
      `const loaded = []; require('node:module').registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(loaded)));\n`,
    );
    // Not spawnSync: the agent runs in this process.
    await promisify(execFile)(process.execPath, ['-r', hook, cliPath.replace(/cli\.js$/, 'bundle/cli.js'), '--config', extra(dir, agent.address), '--once', '--timeout', '20s'], {
      env: { PATH: process.env.PATH },
    });
    return (JSON.parse(readFileSync(out, 'utf8')) as string[]).filter((u) => u.startsWith('file:'));
  }
  const holdsEncoder = (url: string): boolean => readFileSync(new URL(url), 'utf8').includes('spiffe-helper pkcs12 v1');

  it('without a store: no module holding the encoder is loaded', async () => {
    const loaded = await loadedModules((dir, address) => writeConfig(dir, address));
    assert.ok(loaded.length > 1, 'the hook saw the bundle load');
    assert.deepEqual(loaded.filter(holdsEncoder), []);
  });

  it('with a keystore: the encoder is loaded', async () => {
    const loaded = await loadedModules((dir, address) => storeConfig(dir, address));
    assert.equal(loaded.filter(holdsEncoder).length, 1);
  });
});

describe('inspect reads the stores', () => {
  it('--config: aliases, SPIFFE ID, validity, chain verified against the truststore, trusted CAs; no password printed', async () => {
    const dir = tempDir('ksi-');
    const agent = await devAgent(dir, { intermediate: true });
    const config = storeConfig(dir, agent.address, 'keystore_alias = "server"\n');
    assert.equal((await runCli(['--config', config, '--once'])).code, 0);
    const r = await runCli(['inspect', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    const [ks, ts] = report.stores;
    assert.equal(ks.kind, 'keystore');
    assert.match(ks.integrity, /^verified \(HMAC-SHA256, 10000 iterations\)$/);
    assert.equal(ks.keys.length, 1);
    assert.equal(ks.keys[0].alias, 'server');
    assert.equal(ks.keys[0].spiffe_id, 'spiffe://example.org/workload');
    assert.equal(ks.keys[0].serial, serialOfPem(dir));
    assert.equal(ks.keys[0].key_matches, true);
    assert.equal(ks.keys[0].chain.length, 2);
    assert.equal(ks.keys[0].chain_verified.verified, true);
    assert.deepEqual(
      ts.trusted.map((t: { alias: string; trust_domain: string }) => [t.alias, t.trust_domain]),
      [['example.org-1', 'example.org']],
    );
    const text = await runCli(['inspect', '--config', config]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /Keystore {4}.*keystore\.p12\n {2}integrity {3}verified/);
    assert.match(text.stdout, /trusted {5}example\.org-1: /);
    for (const out of [r.stdout, text.stdout]) assert.ok(!out.includes(PASSWORD));
  });

  it('--dir without the password: lists the alias and says what it could not check; with a wrong one: a problem', async () => {
    const dir = tempDir('ksi-');
    const agent = await devAgent(dir);
    assert.equal((await runCli(['--config', storeConfig(dir, agent.address), '--once'])).code, 0);
    const certs = join(dir, 'certs');
    const locked = await runCli(['inspect', '--dir', certs, '--keystore', 'keystore.p12', '--truststore', 'truststore.p12', '--json']);
    assert.equal(locked.code, 0, locked.stdout);
    const report = JSON.parse(locked.stdout);
    assert.equal(report.x509_svid, undefined, 'only the stores were named');
    assert.equal(report.stores[0].integrity, 'not checked: needs the password');
    assert.equal(report.stores[0].keys[0].alias, 'spiffe');
    assert.equal(report.stores[0].keys[0].key_matches, null);
    assert.deepEqual(report.stores[0].unchecked, ['the MAC (integrity): needs the password', '1 encrypted part(s) (certificates, usually): need the password', 'the private keys: need the password']);
    assert.match(report.warnings.join('\n'), /keystore\.p12: without the password, not checked: the MAC/);

    writeFileSync(join(dir, 'wrong'), 'not-it\n');
    const wrong = await runCli(['inspect', '--dir', certs, '--keystore', 'keystore.p12', '--password-file', join(dir, 'wrong'), '--json']);
    assert.equal(wrong.code, 9);
    assert.match(JSON.parse(wrong.stdout).problems.join('\n'), /keystore\.p12: PKCS#12: MAC verification failed \(wrong password or altered file\)/);

    const right = await runCli(['inspect', '--dir', certs, '--keystore', 'keystore.p12', '--truststore', 'truststore.p12', '--password-file', join(dir, 'pw'), '--json']);
    assert.equal(right.code, 0, right.stdout);
    assert.equal(JSON.parse(right.stdout).stores[0].keys[0].chain_verified.verified, true);
  });

  for (const [name, password] of [
    ['the password file is missing', (dir: string) => join(dir, 'gone')],
    ['the password file is a directory', (dir: string) => dir],
  ] as const) {
    it(`--config, ${name}: the stores are inspected without it, and inspect says what it could not check and why`, async () => {
      const dir = tempDir('ksi-');
      const agent = await devAgent(dir);
      const config = storeConfig(dir, agent.address);
      assert.equal((await runCli(['--config', config, '--once'])).code, 0);
      writeFileSync(config, readFileSync(config, 'utf8').replace(join(dir, 'pw'), password(dir)));
      const r = await runCli(['inspect', '--config', config, '--json']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.x509_svid.spiffe_id, 'spiffe://example.org/workload', 'the PEM files are inspected as ever');
      const [ks, ts] = report.stores;
      assert.equal(ks.integrity, 'not checked: needs the password');
      assert.equal(ks.keys[0].alias, 'spiffe', 'what the file shows without the password is listed');
      assert.equal(ks.keys[0].key_matches, null);
      const why = new RegExp(`helper\\.conf:\\d+: keystore_password_file: ${password(dir)}: cannot read the password: (file not found|not a regular file)`);
      for (const s of [ks, ts]) assert.match(s.password_unreadable, why);
      const warnings = report.warnings.join('\n');
      assert.match(warnings, new RegExp(`keystore\\.p12: without the password \\(.*${why.source}\\), not checked: the MAC`));
      assert.match(warnings, /truststore\.p12: without the password \(.*keystore_password_file.*\), not checked: /);
      const text = await runCli(['inspect', '--config', config]);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /Warnings:\n(.*\n)*  - .*keystore\.p12: without the password \(.*keystore_password_file: .*cannot read the password/);
    });
  }

  it('--config, keystore_password_env empty where inspect runs: the stores are inspected without it, the variable named', async () => {
    const dir = tempDir('ksi-');
    const agent = await devAgent(dir);
    const config = storeConfig(dir, agent.address);
    writeFileSync(config, readFileSync(config, 'utf8').replace(/keystore_password_file = .*\n/, 'keystore_password_env = "KS_PASS_FOR_TEST"\n'));
    assert.equal((await runCli(['--config', config, '--once'], { env: { KS_PASS_FOR_TEST: PASSWORD } })).code, 0);
    const r = await runCli(['inspect', '--config', config, '--json'], { env: { KS_PASS_FOR_TEST: '' } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [ks] = JSON.parse(r.stdout).stores;
    assert.equal(ks.integrity, 'not checked: needs the password');
    assert.match(ks.password_unreadable, /keystore_password_env: names the environment variable KS_PASS_FOR_TEST, which is empty/);
  });

  it('usage errors: --password-file without a store, an unreadable password file', async () => {
    const dir = tempDir('ksi-');
    const alone = await runCli(['inspect', '--dir', dir, '--password-file', join(dir, 'pw')]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /inspect: --password-file goes with --keystore or --truststore/);
    const missing = await runCli(['inspect', '--dir', dir, '--keystore', 'ks.p12', '--password-file', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--password-file .*nope: cannot read the password: file not found/);
  });

  it('a keystore without the configured alias, or a truststore with no trusted entry, is a problem', async () => {
    const dir = tempDir('ksi-');
    const agent = await devAgent(dir);
    const config = storeConfig(dir, agent.address);
    assert.equal((await runCli(['--config', config, '--once'])).code, 0);
    // The truststore given as a keystore and the other way round: each lacks what its role needs.
    const swapped = await runCli(['inspect', '--dir', join(dir, 'certs'), '--keystore', 'truststore.p12', '--truststore', 'keystore.p12', '--password-file', join(dir, 'pw'), '--json']);
    assert.equal(swapped.code, 9);
    const problems = JSON.parse(swapped.stdout).problems.join('\n');
    assert.match(problems, /truststore\.p12: no private key entry/);
    assert.match(problems, /keystore\.p12: no trusted certificate entry/);
    writeFileSync(config, readFileSync(config, 'utf8') + 'keystore_alias = "other"\n');
    const alias = await runCli(['inspect', '--config', config, '--json']);
    assert.equal(alias.code, 9);
    assert.match(JSON.parse(alias.stdout).problems.join('\n'), /keystore\.p12: no key entry has the alias "other" \(found: spiffe\)/);
  });
});
