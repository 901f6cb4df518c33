/**
 * Disk faults: cert_dir read-only, full, missing and not creatable, swapped for a symlink;
 * hostile files at the target names; umask. The faults are real, not simulated: tests run as
 * root here, where chmod does not stop writes, so a read-only cert_dir is a read-only bind mount
 * and a full disk is a 64 KiB tmpfs. Without mount(8) rights they fall back to chmod 0555 (as
 * non-root) or skip with the reason printed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startDevAgent, type DevAgent } from '../../src/dev/agent.js';
import { cliPath, writeConfig, type CliResult } from '../helpers/cli.js';
import { LOCK_NAME } from '../../src/output/names.js';
import { flipper } from '../output/fixtures/flipper.js';
import { waitFor } from '../helpers/wait.js';
import { assertUnchanged, freePort, Helper, httpStatus, isRejected, isWriteFailed, isWritten, leafSerial, leftovers, scope, serialOf, snapshot, type Scope } from './lib.js';

const isRoot = process.getuid?.() === 0;
const mountWorks = isRoot && probeMount();
const counts = { faults: 0, checks: 0, anomalies: 0 };
after(() =>
  console.log(
    `# disk faults: ${counts.faults} faults injected (${mountWorks ? 'real: read-only bind mounts and a 64 KiB tmpfs' : isRoot ? 'mount unavailable: mount-based cases skipped' : 'chmod as non-root'}), ${counts.checks} leftover/partial-file checks, ${counts.anomalies} anomalies`,
  ),
);

function probeMount(): boolean {
  const dir = `/tmp/shm-probe-${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function probeChattr(): boolean {
  const dir = mkdtempSync('/tmp/chattr-probe-');
  const file = join(dir, 'f');
  try {
    writeFileSync(file, '');
    execFileSync('chattr', ['+i', file], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', file], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Makes `dir` read-only for the helper; returns the undo. A real EROFS when mount works. */
function makeReadOnly(s: Scope, dir: string): () => void {
  if (mountWorks) {
    execFileSync('mount', ['--bind', dir, dir]);
    execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
    let undone = false;
    const undo = () => {
      if (!undone) execFileSync('umount', [dir]);
      undone = true;
    };
    s.defer(undo);
    return undo;
  }
  execFileSync('chmod', ['0555', dir]);
  const undo = () => execFileSync('chmod', ['0755', dir]);
  s.defer(undo);
  return undo;
}

/** Mounts a tmpfs of `size` on `dir` (created if needed); unmounted after the test. */
function tmpfs(s: Scope, dir: string, size = '64k'): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  s.defer(() => execFileSync('umount', ['-l', dir]));
}

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // Byte-sized leftovers too, so that not even a small file fits.
  const fd2 = openSync(file, 'a');
  try {
    for (;;) writeSync(fd2, Buffer.alloc(1, 1));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd2);
  }
  return file;
}

const chattrWorks = isRoot && probeChattr();
const skipWithoutMount = mountWorks ? false : 'needs mount(8) rights (tmpfs / read-only bind mount); none here';
const skipReadOnly = mountWorks || !isRoot ? false : 'root without mount rights: chmod cannot make a directory read-only for root';

async function agentIn(s: Scope): Promise<DevAgent> {
  const a = await startDevAgent({ socketPath: join(s.dir, 'agent.sock'), svidTtlSeconds: 3600 });
  s.defer(() => a.close());
  return a;
}

function daemon(s: Scope, address: string, extra = ''): Helper {
  const h = Helper.start(writeConfig(s.dir, address, extra));
  s.defer(() => h.stop());
  return h;
}

async function once(s: Scope, address: string, extra = '', shellPrefix = ''): Promise<CliResult> {
  const config = writeConfig(s.dir, address, extra);
  if (!shellPrefix) return Helper.start(config, ['--once', '--timeout', '10s']).run.result;
  // umask is a property of the process: set it in a shell that then becomes the helper.
  const child = spawn('sh', ['-c', `${shellPrefix}; exec "$0" "$@"`, process.execPath, cliPath, '--config', config, '--once'], {
    env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const started = performance.now();
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr, ms: performance.now() - started })));
}

const currentSerial = (a: DevAgent) => leafSerial(a.current()!.svids[0]!.x509_svid);
const healthConf = (port: number) => `[health_checks]\nlistener_enabled = true\nbind_port = ${port}\n`;

/** No temporaries, and every target present is a complete PEM file. */
function assertNoPartialFiles(certs: string, what: string): void {
  counts.checks++;
  try {
    assert.deepEqual(leftovers(certs), [], `${what}: temporary files left behind`);
    for (const name of ['svid.pem', 'bundle.pem']) {
      const p = join(certs, name);
      if (existsSync(p)) assert.ok(new X509Certificate(readFileSync(p)), `${what}: ${name} is not a whole certificate`);
    }
    const key = join(certs, 'svid_key.pem');
    if (existsSync(key)) assert.match(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n[^]+\n-----END PRIVATE KEY-----\n$/, `${what}: partial key`);
  } catch (e) {
    counts.anomalies++;
    throw e;
  }
}

function unchanged(before: ReturnType<typeof snapshot>, certs: string, what: string): void {
  try {
    assertUnchanged(before, snapshot(certs), what);
  } catch (e) {
    counts.anomalies++;
    throw e;
  }
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('disk faults', { concurrency: 2 }, () => {
  for (const layout of ['files', 'atomic_dir'] as const) {
    test(`daemon (${layout}): cert_dir turns read-only; the write fails, files kept, still live and ready; once writable it lands on its own, with no new agent message`, {
      skip: skipReadOnly,
    }, async () => {
      const s = scope('shr-');
      const certs = join(s.dir, 'certs');
      const agent = await agentIn(s);
      const port = await freePort();
      const h = daemon(s, agent.address, `file_layout = "${layout}"\n${healthConf(port)}`);
      await h.waitFor('the first write', 0, isWritten);
      const before = snapshot(certs);
      const undo = makeReadOnly(s, certs);
      counts.faults++;
      const m = h.mark();
      await agent.rotate();
      const rotated = currentSerial(agent);
      const line = await h.waitFor('the failed write', m, (l) => isWriteFailed(l) || isWritten(l) || isRejected(l));
      assert.ok(isWriteFailed(line), 'a read-only cert_dir cannot have been written, and the update is not refused');
      assert.match(String(line.error), /cannot write .* in .*\/certs: (read-only file system|permission denied); the previous files are unchanged/);
      assert.ok(Number(line.retry_in_ms) > 0, 'the write is retried on its own');
      unchanged(before, certs, 'read-only');
      assertNoPartialFiles(certs, 'read-only');
      const url = `http://127.0.0.1:${port}`;
      assert.equal(await httpStatus(`${url}/live`), 200, 'live: a restart would not make the disk writable; the helper retries');
      assert.equal(await httpStatus(`${url}/ready`), 200, 'still ready: the SVID on disk is valid');
      assert.ok(h.alive);
      undo();
      await h.waitFor('the retried write', m, (l) => isWritten(l) && l.serial === rotated, 40_000);
      assert.equal(currentSerial(agent), rotated, 'the agent sent nothing new: the helper retried on its own');
      assert.equal(serialOf(join(certs, 'svid.pem')), rotated);
      assert.equal(await httpStatus(`${url}/live`), 200, 'still live');
      assert.equal(h.lines(m).filter(isRejected).length, 0, 'a failed write is not a refused update');
      assertNoPartialFiles(certs, 'after recovery');
    });

    test(`daemon (${layout}): disk full (64 KiB tmpfs); ENOSPC, files kept, temporaries removed; once space is freed the write lands on its own`, { skip: skipWithoutMount }, async () => {
      const s = scope('shz-');
      const certs = join(s.dir, 'certs');
      tmpfs(s, certs);
      const agent = await agentIn(s);
      const h = daemon(s, agent.address, `file_layout = "${layout}"\n`);
      await h.waitFor('the first write', 0, isWritten);
      const filler = fill(certs);
      counts.faults++;
      const before = snapshot(certs);
      const m = h.mark();
      await agent.rotate();
      const rotated = currentSerial(agent);
      const line = await h.waitFor('the failed write', m, (l) => isWriteFailed(l) || isWritten(l) || isRejected(l));
      assert.ok(isWriteFailed(line), 'a full disk cannot have been written');
      assert.match(String(line.error), /cannot write .*: no space left on device; the previous files are unchanged/);
      unchanged(before, certs, 'disk full');
      assertNoPartialFiles(certs, 'disk full');
      rmSync(filler);
      await h.waitFor('the retried write once space was freed', m, (l) => isWritten(l) && l.serial === rotated, 40_000);
      assert.equal(currentSerial(agent), rotated, 'the agent sent nothing new');
      assertNoPartialFiles(certs, 'after space was freed');
    });
  }

  // The lock is the daemon's first write: a disk fault that clears must not end it there either.
  for (const [fault, make] of [
    [
      'full (a filled 64 KiB tmpfs)',
      (s: Scope, certs: string) => {
        tmpfs(s, certs);
        const filler = fill(certs);
        return () => rmSync(filler);
      },
    ],
    [
      'read-only (a read-only bind mount)',
      (s: Scope, certs: string) => {
        mkdirSync(certs);
        return makeReadOnly(s, certs);
      },
    ],
  ] as const) {
    test(`daemon started on a ${fault} cert_dir: it waits for the lock, retrying on its own; once the fault clears it takes it and writes`, { skip: skipWithoutMount }, async () => {
      const s = scope('shl-');
      const certs = join(s.dir, 'certs');
      const undo = make(s, certs);
      counts.faults++;
      const agent = await agentIn(s);
      const h = daemon(s, agent.address);
      const retry = await h.waitFor('a failed lock attempt', 0, (l) => l.msg === 'cannot take the cert_dir lock; retrying' || isWritten(l));
      assert.match(String(retry.error), /cannot take the cert_dir lock in .*\/certs: (no space left on device|read-only file system)/);
      assert.ok(Number(retry.retry_in_ms) > 0);
      await h.waitFor('a second attempt', 0, () => h.lines().filter((l) => l.msg === 'cannot take the cert_dir lock; retrying').length >= 2, 10_000);
      assert.ok(h.alive, 'still running');
      undo();
      await h.waitFor('the first write once the fault cleared', 0, isWritten, 40_000);
      assert.deepEqual(
        readdirSync(certs)
          .filter((n) => n !== 'filler')
          .sort(),
        [LOCK_NAME, 'bundle.pem', 'svid.pem', 'svid_key.pem'],
        'no lock candidate or temporary left',
      );
    });
  }

  test('one-shot: read-only cert_dir exits 6 and keeps the previous files', { skip: skipReadOnly }, async () => {
    const s = scope('sho-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    assert.equal((await once(s, agent.address)).code, 0);
    const before = snapshot(certs);
    makeReadOnly(s, certs);
    counts.faults++;
    await agent.rotate();
    const r = await once(s, agent.address);
    assert.equal(r.code, 6, r.stderr);
    // The first thing a one-shot writes in cert_dir is its lock.
    assert.match(r.stderr, /cannot take the cert_dir lock in .*: (read-only file system|permission denied); the previous files are unchanged/);
    unchanged(before, certs, 'one-shot read-only');
  });

  test('one-shot: full disk exits 6 and leaves no partial file', { skip: skipWithoutMount }, async () => {
    const s = scope('shq-');
    const certs = join(s.dir, 'certs');
    tmpfs(s, certs);
    const agent = await agentIn(s);
    fill(certs);
    counts.faults++;
    const r = await once(s, agent.address);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /no space left on device/);
    assert.deepEqual([...snapshot(certs).keys()], ['filler'], 'nothing but the filler');
  });

  test('cert_dir missing and not creatable (its parent is a file): one-shot and daemon exit 6', async () => {
    const s = scope('shm-');
    const agent = await agentIn(s);
    writeFileSync(join(s.dir, 'certs'), 'a file where a directory should be\n');
    counts.faults++;
    const r = await once(s, agent.address);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /cert_dir .*\/certs: cannot create it/);
    const d = await Helper.start(writeConfig(s.dir, agent.address)).run.result;
    assert.equal(d.code, 6, d.stderr);
    assert.equal(readFileSync(join(s.dir, 'certs'), 'utf8'), 'a file where a directory should be\n', 'the file is untouched');
  });

  test('cert_dir removed while the daemon runs: the write fails ("directory does not exist"), /ready 503, /live 503 (a restart recreates it), no crash', async () => {
    const s = scope('shg-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    const port = await freePort();
    const h = daemon(s, agent.address, healthConf(port));
    await h.waitFor('the first write', 0, isWritten);
    rmSync(certs, { recursive: true });
    counts.faults++;
    const m = h.mark();
    await agent.rotate();
    const line = await h.waitFor('the failed write', m, (l) => isWriteFailed(l) || isWritten(l));
    assert.match(String(line.error), /cannot write svid\.pem in .*\/certs: directory does not exist/);
    assert.ok(!existsSync(certs), "cert_dir is not recreated behind the operator's back");
    assert.equal(await httpStatus(`http://127.0.0.1:${port}/ready`), 503, 'not ready: the files are gone');
    assert.equal(await httpStatus(`http://127.0.0.1:${port}/live`), 503, 'not live: only a restart recreates cert_dir');
    assert.ok(h.alive);
  });

  test('daemon: X.509 set, JWT bundle and JWT-SVID that failed on a read-only cert_dir each land on their own once it is writable', { skip: skipReadOnly }, async () => {
    const s = scope('shj-');
    const certs = join(s.dir, 'certs');
    const agent = await startDevAgent({ socketPath: join(s.dir, 'agent.sock'), svidTtlSeconds: 3600, jwtTtlSeconds: 6 });
    s.defer(() => agent.close());
    const jwtConf = 'jwt_bundle_file_name = "jwt_bundle.json"\njwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n';
    const h = daemon(s, agent.address, jwtConf);
    await h.waitFor('the first token', 0, (l) => l.msg === 'jwt svid written');
    await h.waitFor('the first JWT bundle', 0, (l) => l.msg === 'jwt bundle written');
    const token = readFileSync(join(certs, 'api.jwt'), 'utf8');
    const undo = makeReadOnly(s, certs);
    counts.faults++;
    const m = h.mark();
    // New X.509-SVID, and a JWT bundle that now holds partner.org.
    agent.setFederatedTrustDomains(['partner.org']);
    await agent.rotate();
    const rotated = currentSerial(agent);
    await h.waitFor('the X.509 write to fail', m, isWriteFailed);
    await h.waitFor('the JWT bundle write to fail', m, (l) => l.msg === 'jwt bundle write failed; retrying');
    await h.waitFor('a token refresh to fail', m, (l) => l.msg.startsWith('jwt svid refresh failed'), 10_000);
    undo();
    await h.waitFor('the X.509 set', m, (l) => isWritten(l) && l.serial === rotated, 40_000);
    await h.waitFor('the JWT bundle', m, (l) => l.msg === 'jwt bundle written' && String(l.trust_domains).includes('partner.org'), 40_000);
    await h.waitFor('a fresh token', m, (l) => l.msg === 'jwt svid written', 40_000);
    assert.equal(currentSerial(agent), rotated, 'the agent pushed nothing new');
    assert.ok('partner.org' in JSON.parse(readFileSync(join(certs, 'jwt_bundle.json'), 'utf8')), 'the JWT bundle on disk holds partner.org');
    assert.notEqual(readFileSync(join(certs, 'api.jwt'), 'utf8'), token, 'a fresh token is on disk');
    assert.equal(h.lines(m).filter(isRejected).length, 0, 'failed writes are not refused updates');
  });

  test('daemon: updates that arrive while a read-only cert_dir holds the write back: only the newest lands, once, and cmd is signalled once', { skip: skipReadOnly }, async () => {
    const s = scope('shs-');
    const certs = join(s.dir, 'certs');
    const agent = await startDevAgent({ socketPath: join(s.dir, 'agent.sock'), svidTtlSeconds: 3600 });
    s.defer(() => agent.close());
    const sigs = join(s.dir, 'sigs');
    const child = join(s.dir, 'child.sh');
    writeFileSync(child, `#!/bin/sh\ntrap 'echo hup >> ${sigs}' HUP\nwhile :; do sleep 0.1; done\n`, { mode: 0o755 });
    const cmd = `cmd = "${child}"\nrenew_signal = "SIGHUP"\n`;
    const jwtConf = 'jwt_bundle_file_name = "jwt_bundle.json"\n';
    const h = daemon(s, agent.address, cmd + jwtConf);
    await h.waitFor('the first write', 0, isWritten);
    await h.waitFor('cmd started', 0, (l) => l.msg === 'cmd started');
    await h.waitFor('the first JWT bundle', 0, (l) => l.msg === 'jwt bundle written');
    const undo = makeReadOnly(s, certs);
    counts.faults++;
    const m = h.mark();
    const failures = (msg: string) => h.lines(m).filter((l) => l.msg === msg).length;
    agent.setFederatedTrustDomains(['first.org']);
    await agent.rotate();
    const first = currentSerial(agent);
    await h.waitFor('the first update to fail', m, isWriteFailed);
    await h.waitFor('the first JWT bundle to fail', m, (l) => l.msg === 'jwt bundle write failed; retrying');
    const [x, j] = [failures('x509 write failed; retrying'), failures('jwt bundle write failed; retrying')];
    agent.setFederatedTrustDomains(['second.org']);
    await agent.rotate();
    const second = currentSerial(agent);
    await h.waitFor('the newer update to fail too', m, () => failures('x509 write failed; retrying') > x && failures('jwt bundle write failed; retrying') > j, 40_000);
    undo();
    await h.waitFor('the newer X.509 set', m, (l) => isWritten(l) && l.serial === second, 40_000);
    await h.waitFor('the newer JWT bundle', m, (l) => l.msg === 'jwt bundle written' && String(l.trust_domains).includes('second.org'), 40_000);
    // The signal follows the "written" line (the write is recorded first): counted before the fence, not after it.
    await h.waitFor('the signal for the newer set', m, (l) => l.msg === 'signalled cmd after rotation');
    // A fence: one more rotation, written and signalled; everything before it is counted.
    const fence = h.mark();
    await agent.rotate();
    const third = currentSerial(agent);
    await h.waitFor('the fence rotation', fence, (l) => isWritten(l) && l.serial === third);
    await h.waitFor('its signal', fence, (l) => l.msg === 'signalled cmd after rotation');
    const held = h.lines(m).slice(0, fence - m);
    assert.deepEqual(
      held.filter(isWritten).map((l) => l.serial),
      [second],
      `only the newest X.509 update is written (not ${first})`,
    );
    assert.deepEqual(
      held.filter((l) => l.msg === 'jwt bundle written').map((l) => l.trust_domains),
      [held.find((l) => l.msg === 'jwt bundle written')!.trust_domains],
    );
    assert.ok(!held.some((l) => l.msg === 'jwt bundle written' && String(l.trust_domains).includes('first.org')), 'the superseded JWT bundle is never written');
    assert.equal(held.filter((l) => l.msg === 'signalled cmd after rotation').length, 1, 'one signal for the held-back update');
    await waitFor('the child to log both signals', () => readFileSync(sigs, 'utf8').split('\n').filter(Boolean).length >= 2);
    assert.equal(readFileSync(sigs, 'utf8').split('\n').filter(Boolean).length, 2, 'the child saw one signal for the held-back update and one for the fence');
    assertNoPartialFiles(certs, 'after recovery');
  });

  // Clean-up after a complete write (what only follows the new files) fails: a warning, never
  // a failed or refused update. One case per clean-up the helper does.
  const cleanups: { name: string; conf: string; federated: boolean; pin(certs: string): string; warning: RegExp; error?: RegExp }[] = [
    {
      name: 'a stale federated bundle file (files layout)',
      conf: 'federated_bundle_file_name = "federated_{trust_domain}.pem"\n',
      federated: true,
      pin: (certs) => join(certs, 'federated_partner.org.pem'),
      warning: /^could not remove the bundle file of a trust domain no longer federated/,
    },
    {
      name: 'a stale per-domain JWKS file (jwt_bundle_format = "jwks")',
      conf: 'jwt_bundle_file_name = "jwks_{trust_domain}.json"\njwt_bundle_format = "jwks"\n',
      federated: true,
      pin: (certs) => join(certs, 'jwks_partner.org.json'),
      warning: /^could not remove the jwt bundle file of a trust domain no longer in the bundle set/,
    },
    {
      name: 'an old atomic_dir version directory',
      conf: 'file_layout = "atomic_dir"\n',
      federated: false,
      // The first version goes at the second swap after it: pin a file inside it.
      pin: (certs) => join(certs, readdirSync(certs).find((n) => n.startsWith('..2'))!, 'svid.pem'),
      warning: /^could not remove the old atomic_dir version/,
      // fs.rm, refused the unlink inside, retries the file as a directory and reports that.
      error: /operation not permitted|not a directory/,
    },
  ];
  for (const c of cleanups) {
    test(`clean-up after a complete write fails (${c.name}, immutable): a warning; the update is written, not refused, /live and /ready 200`, {
      skip: chattrWorks ? false : 'needs chattr +i (root, a file system with the immutable flag)',
    }, async () => {
      const s = scope('shi-');
      const certs = join(s.dir, 'certs');
      const agent = await startDevAgent({ socketPath: join(s.dir, 'agent.sock'), svidTtlSeconds: 3600, federatedTrustDomains: c.federated ? ['partner.org'] : [] });
      s.defer(() => agent.close());
      const port = await freePort();
      const h = daemon(s, agent.address, `${c.conf}${healthConf(port)}`);
      await h.waitFor('the first write', 0, isWritten);
      if (c.conf.includes('jwt_bundle')) await h.waitFor('the first JWT bundle', 0, (l) => l.msg === 'jwt bundle written');
      const pinned = c.pin(certs);
      assert.ok(existsSync(pinned), `${pinned} exists`);
      execFileSync('chattr', ['+i', pinned]);
      s.defer(() => execFileSync('chattr', ['-i', pinned]));
      counts.faults++;
      const m = h.mark();
      if (c.federated) agent.setFederatedTrustDomains([]);
      else {
        // The second version; the pinned first one goes at the swap after it.
        await agent.rotate();
        const second = currentSerial(agent);
        await h.waitFor('the second version', m, (l) => isWritten(l) && l.serial === second);
      }
      await agent.rotate();
      const rotated = currentSerial(agent);
      await h.waitFor('the write', m, (l) => isWritten(l) && l.serial === rotated);
      const warning = await h.waitFor('the cleanup warning', m, (l) => c.warning.test(l.msg));
      assert.equal(warning.level, 'warn');
      assert.match(String(warning.error), c.error ?? /operation not permitted/);
      const url = `http://127.0.0.1:${port}`;
      // Health records the write after the cleanup warns: wait for this write's serial, then ready.
      const recorded = async (): Promise<{ status: number; serial?: string }> => {
        const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(3000) });
        return { status: res.status, serial: ((await res.json()) as { x509_svid?: { serial: string } }).x509_svid?.serial };
      };
      const health = await waitFor('health to record the write', async () => {
        const r = await recorded();
        return r.serial === rotated && r;
      });
      assert.equal(health.status, 200, 'the write is recorded as a success: ready');
      assert.equal(await httpStatus(`${url}/live`), 200);
      assert.equal(h.lines(m).filter((l) => isRejected(l) || isWriteFailed(l) || l.msg.includes('write failed')).length, 0, 'neither refused nor retried');
      assert.equal(serialOf(join(certs, 'svid.pem')), rotated);
    });
  }

  test('cert_dir replaced by a symlink to another directory: writes follow the link; the old directory keeps its last files', async () => {
    const s = scope('shl-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    const h = daemon(s, agent.address);
    await h.waitFor('the first write', 0, isWritten);
    const old = join(s.dir, 'certs.old');
    const elsewhere = join(s.dir, 'elsewhere');
    renameSync(certs, old);
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, certs);
    counts.faults++;
    const oldSnap = snapshot(old);
    const m = h.mark();
    await agent.rotate();
    await h.waitFor('the write through the symlink', m, (l) => isWritten(l) && l.serial === currentSerial(agent));
    assert.equal(serialOf(join(elsewhere, 'svid.pem')), currentSerial(agent), 'the files landed where the link points');
    assert.ok(lstatSync(certs).isSymbolicLink(), 'the link itself is left alone');
    unchanged(oldSnap, old, 'the directory that was moved away');
    assertNoPartialFiles(elsewhere, 'symlinked cert_dir');
  });

  test('a symlink planted at a file name is replaced, never written through', async () => {
    const s = scope('shv-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    mkdirSync(certs);
    const victim = join(s.dir, 'victim');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    symlinkSync(victim, join(certs, 'svid_key.pem'));
    symlinkSync('/nonexistent/dangling', join(certs, 'bundle.pem'));
    counts.faults++;
    const r = await once(s, agent.address);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the link target is untouched');
    assert.equal(mode(victim), 0o644);
    for (const name of ['svid_key.pem', 'bundle.pem']) assert.ok(lstatSync(join(certs, name)).isFile(), `${name} is now a regular file`);
    assert.equal(mode(join(certs, 'svid_key.pem')), 0o600);
    assertNoPartialFiles(certs, 'planted symlinks');
  });

  test('pre-existing files with the wrong modes end with the configured ones (key 0644 -> 0600, cert 0600 -> 0644)', async () => {
    const s = scope('shw-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    mkdirSync(certs);
    writeFileSync(join(certs, 'svid_key.pem'), 'old key\n', { mode: 0o644 });
    writeFileSync(join(certs, 'svid.pem'), 'old cert\n', { mode: 0o600 });
    writeFileSync(join(certs, 'bundle.pem'), 'old bundle\n', { mode: 0o666 });
    execFileSync('chmod', ['0666', join(certs, 'bundle.pem')]);
    const r = await once(s, agent.address);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(join(certs, 'svid_key.pem')), 0o600);
    assert.equal(mode(join(certs, 'svid.pem')), 0o644);
    assert.equal(mode(join(certs, 'bundle.pem')), 0o644);
  });

  test('temporaries left by a helper killed mid-write are removed by the next start, and nothing else is', async () => {
    const s = scope('shj-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    mkdirSync(certs);
    const hex = '0123456789abcdef0123456789abcdef';
    const ours = [`.svid.pem.${hex}.tmp`, `.svid_key.pem.${'ab'.repeat(16)}.tmp`, `.bundle.pem.${'0'.repeat(32)}.tmp`];
    const notOurs = [`.other.pem.${hex}.tmp`, '.svid.pem.not-hex.tmp', `svid.pem.${hex}.tmp`, '.svid.pem.0123456789ab.tmp', 'notes.txt'];
    for (const name of [...ours, ...notOurs]) writeFileSync(join(certs, name), 'left over\n', { mode: 0o600 });
    const r = await once(s, agent.address);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ours) assert.ok(!existsSync(join(certs, name)), `${name} removed`);
    for (const name of notOurs) assert.ok(existsSync(join(certs, name)), `${name} kept: not a temporary of ours`);
  });

  test('SIGKILL during back-to-back rotations: files always whole; after a restart no temporary remains', async () => {
    const s = scope('shk-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    let leftBehind = 0;
    const TRIALS = 6;
    for (let trial = 0; trial < TRIALS; trial++) {
      const h = Helper.start(writeConfig(s.dir, agent.address));
      s.defer(() => h.stop());
      await h.waitFor('a write', 0, isWritten);
      const until = Date.now() + 400;
      const spin = (async () => {
        while (Date.now() < until) await agent.rotate();
      })();
      await new Promise((r) => setTimeout(r, 100 + trial * 50));
      h.run.child.kill('SIGKILL');
      counts.faults++;
      await spin;
      await h.run.result;
      if (leftovers(certs).length) leftBehind++;
      // Whatever the moment of the kill, each file is the old or the new one, whole.
      const svid = new X509Certificate(readFileSync(join(certs, 'svid.pem')));
      assert.ok(svid.serialNumber);
      assert.match(readFileSync(join(certs, 'svid_key.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n[^]+-----END PRIVATE KEY-----\n$/);
    }
    const h = Helper.start(writeConfig(s.dir, agent.address));
    s.defer(() => h.stop());
    await h.waitFor('the write after the last kill', 0, isWritten);
    assertNoPartialFiles(certs, 'after SIGKILLs and a restart');
    console.log(`# SIGKILL mid-rotation: ${TRIALS} kills, ${leftBehind} left temporaries behind, all removed at the next start`);
  });

  for (const umask of ['000', '077']) {
    for (const layout of ['files', 'atomic_dir'] as const) {
      for (const custom of [false, true]) {
        const modes = custom ? { cert: 0o640, key: 0o400 } : { cert: 0o644, key: 0o600 };
        test(`umask ${umask}, ${layout}, ${custom ? 'cert_file_mode 0640 / key_file_mode 0400' : 'default modes'}: modes are exact`, async () => {
          const s = scope('shu-');
          const certs = join(s.dir, 'certs');
          const agent = await agentIn(s);
          const extra = `file_layout = "${layout}"\n${custom ? 'cert_file_mode = "0640"\nkey_file_mode = "0400"\n' : ''}`;
          const r = await once(s, agent.address, extra, `umask ${umask}`);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(mode(join(certs, 'svid.pem')), modes.cert, 'svid.pem');
          assert.equal(mode(join(certs, 'bundle.pem')), modes.cert, 'bundle.pem');
          assert.equal(mode(join(certs, 'svid_key.pem')), modes.key, 'svid_key.pem');
          // cert_dir itself is created 0755 less the umask.
          assert.equal(mode(certs), 0o755 & ~parseInt(umask, 8));
          if (layout === 'atomic_dir') assert.equal(mode(realpathSync(join(certs, '..data'))), 0o755, 'the version directory');
          assertNoPartialFiles(certs, `umask ${umask}`);
        });
      }
    }
  }
});

test('no partial file at any time: a reader polling during failing and succeeding writes never sees one', { skip: skipWithoutMount }, async () => {
  // The disk flips between full and free while rotations go on; a tight reader checks every file it can open.
  const s = scope('shp-');
  const certs = join(s.dir, 'certs');
  tmpfs(s, certs, '128k');
  const agent = await agentIn(s);
  const h = daemon(s, agent.address);
  await h.waitFor('the first write', 0, isWritten);
  let partial = 0;
  let reads = 0;
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      for (const name of ['svid.pem', 'bundle.pem']) {
        let text: string;
        try {
          text = readFileSync(join(certs, name), 'utf8');
        } catch {
          continue;
        }
        reads++;
        try {
          new X509Certificate(text);
        } catch {
          partial++;
        }
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  let failed = 0;
  let written = 0;
  for (let i = 0; i < 20; i++) {
    const full = i % 2 === 0;
    const filler = full ? fill(certs) : undefined;
    if (full) counts.faults++;
    const m = h.mark();
    await agent.rotate();
    const serial = currentSerial(agent);
    const line = await h.waitFor(`rotation ${i}`, m, (l) => isWriteFailed(l) || isWritten(l));
    if (isWriteFailed(line)) failed++;
    if (filler) rmSync(filler);
    // A failed write lands on its own once there is space again.
    await h.waitFor(`rotation ${i} on disk`, m, (l) => isWritten(l) && l.serial === serial, 10_000);
    written++;
    assert.deepEqual(leftovers(certs), []);
  }
  stop = true;
  await reader;
  assert.ok(h.alive);
  console.log(`# disk flapping: 20 rotations, ${failed} failed first (disk full), ${written} written in the end, ${reads} reads, ${partial} partial`);
  assert.equal(failed, 10);
  assert.equal(written, 20);
  assert.ok(reads > 100, `the reader read ${reads} times`);
  assert.equal(partial, 0, 'never a partial file');
  counts.checks++;
});

describe('one writer per cert_dir', () => {
  test("a second helper on the same cert_dir (daemon, then --once) exits 10 at once naming the first; the first's ..data set stays whole", async () => {
    const s = scope('sho-');
    const certs = join(s.dir, 'certs');
    const agent = await agentIn(s);
    const first = daemon(s, agent.address, 'file_layout = "atomic_dir"\nkey_file_mode = "0640"\n');
    await first.waitFor('the first write', 0, isWritten);
    const warnings = first.lines().filter((l) => l.level === 'warn' && l.key === 'key_file_mode');
    assert.equal(warnings.length, 1, 'one start-up warning naming key_file_mode');
    // The second helper uses its own config file (same cert_dir), as a second deployment would.
    mkdirSync(join(s.dir, 'second'));
    const secondConfig = writeConfig(join(s.dir, 'second'), agent.address, `file_layout = "atomic_dir"\n`);
    writeFileSync(secondConfig, readFileSync(secondConfig, 'utf8').replace(/cert_dir = .*/, `cert_dir = "${certs}"`));
    for (const args of [[], ['--once', '--timeout', '10s']]) {
      const second = Helper.start(secondConfig, args);
      s.defer(() => second.stop());
      const r = await second.run.result;
      counts.faults++;
      assert.equal(r.code, 10, `${args.join(' ') || 'daemon'}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`cert_dir \\S+ is in use by another spiffe-helper: pid ${first.pid} \\([^)]*cli\\.js[^)]*\\), daemon with config \\S+helper\\.conf`));
    }
    const m = first.mark();
    await agent.rotate();
    await first.waitFor('the write after the refused helpers', m, (l) => isWritten(l) && l.serial === currentSerial(agent));
    assert.equal(serialOf(join(certs, 'svid.pem')), currentSerial(agent), 'svid.pem resolves through ..data to the newest SVID');
    assert.ok(existsSync(realpathSync(join(certs, '..data'))), '..data points at a version that exists');
    assertNoPartialFiles(certs, 'after a refused second writer');
  });

  test('N helpers started at once on one cert_dir: exactly one keeps running, the others exit 10', async () => {
    const s = scope('shn-');
    const agent = await agentIn(s);
    const config = writeConfig(s.dir, agent.address, 'file_layout = "atomic_dir"\n');
    const N = 4;
    const helpers = Array.from({ length: N }, () => Helper.start(config));
    helpers.forEach((h) => s.defer(() => h.stop()));
    const exited = await waitFor('all but one to exit', () => (helpers.filter((h) => !h.alive).length >= N - 1 ? helpers.filter((h) => !h.alive) : undefined), 30_000, 20);
    const running = helpers.filter((h) => h.alive);
    assert.equal(running.length, 1, 'exactly one helper runs');
    for (const h of exited) assert.equal((await h.run.result).code, 10, h.run.stderr());
    await running[0]!.waitFor('the winner writes', 0, isWritten);
    assertNoPartialFiles(join(s.dir, 'certs'), 'after N helpers at once');
  });
});

for (const layout of ['files', 'atomic_dir'] as const) {
  test(`cert_dir a symlink flipped between two directories during rotations (${layout}): no temporary left in either`, async () => {
    const s = scope('shf-');
    const certs = join(s.dir, 'certs');
    const [a, b] = [join(s.dir, 'a'), join(s.dir, 'b')];
    mkdirSync(a);
    mkdirSync(b);
    symlinkSync(a, certs);
    const agent = await agentIn(s);
    const h = daemon(s, agent.address, `file_layout = "${layout}"\n`);
    await h.waitFor('the first write', 0, isWritten);
    const flip = flipper(certs, a, b);
    s.defer(() => flip.stop());
    const ROTATIONS = 60;
    const m = h.mark();
    for (let i = 0; i < ROTATIONS; i++) {
      const mi = h.mark();
      await agent.rotate();
      await h.waitFor(`rotation ${i + 1}`, mi, (l) => (isWritten(l) && l.serial === currentSerial(agent)) || l.level === 'error');
    }
    await flip.stop();
    counts.faults += ROTATIONS;
    const failed = h.lines(m).filter((l) => l.level === 'error').length;
    const left = [...leftovers(a), ...leftovers(b)];
    console.log(`# cert_dir flipped during ${ROTATIONS} rotations (${layout}): ${left.length} temporaries left, ${failed} failed writes`);
    assert.deepEqual(left, [], 'temporaries left behind');
    assert.equal(failed, 0, 'each write went wholly to one directory');
  });
}
