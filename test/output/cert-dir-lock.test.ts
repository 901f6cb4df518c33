import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isHelperError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { writeFilesAtomic } from '../../src/output/atomic-write.js';
import { lockCertDir } from '../../src/output/cert-dir-lock.js';
import { lockOutputDirs } from '../../src/output/output-dir-locks.js';
import { LOCK_NAME } from '../../src/output/names.js';
import { tempDir } from '../helpers/tmp.js';

const contender = fileURLToPath(new URL('./fixtures/lock-contender.ts', import.meta.url));
const who = { mode: 'daemon' as const, config: '/etc/helper.conf' };
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const pidNs = readlinkSync('/proc/self/ns/pid');
const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};
const deadPid = () => spawnSync('true').pid!;

/** A lock as another helper would have left it. */
function plantLock(dir: string, owner: Record<string, unknown>, ageMs = 0): string {
  const lockDir = join(dir, LOCK_NAME);
  mkdirSync(lockDir, { recursive: true });
  const file = join(lockDir, 'owner.0123456789abcdef0123456789abcdef');
  writeFileSync(file, JSON.stringify({ host: 'h', mode: 'daemon', config: '/other.conf', since: '2026-01-01T00:00:00.000Z', ...owner }));
  const t = new Date(Date.now() - ageMs);
  utimesSync(file, t, t);
  return file;
}

const isBusy = (re: RegExp) => (e: unknown) => isHelperError(e, 'busy') && e.reason === 'busy' && re.test(e.message);

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (msg: string) => void lines.push(msg);
  return { lines, debug: rec, info: rec, warn: rec, error: rec };
}

describe('cert_dir lock', () => {
  test('a second helper while the first holds the lock is busy, naming its pid, command and config', async () => {
    const dir = tempDir();
    const lock = await lockCertDir(dir, who, silentLogger);
    try {
      await assert.rejects(
        lockCertDir(dir, { mode: 'once', config: '/x.conf' }, silentLogger),
        isBusy(new RegExp(`in use by another spiffe-helper: pid ${process.pid} \\(.*node.*\\), daemon with config /etc/helper\\.conf`)),
      );
    } finally {
      lock.release();
    }
  });

  test('released: no lock entry is left in cert_dir and the next helper takes it', async () => {
    const dir = tempDir();
    (await lockCertDir(dir, who, silentLogger)).release();
    assert.deepEqual(readdirSync(dir), []);
    (await lockCertDir(dir, who, silentLogger)).release();
  });

  test('the lock is not an output: it lives in the reserved ".." namespace, a directory beside the files', async () => {
    const dir = tempDir();
    const lock = await lockCertDir(dir, who, silentLogger);
    try {
      assert.deepEqual(readdirSync(dir), [LOCK_NAME]);
      assert.ok(LOCK_NAME.startsWith('..'));
      assert.equal(readdirSync(join(dir, LOCK_NAME)).length, 1);
    } finally {
      lock.release();
    }
  });

  const stale: [string, () => Record<string, unknown>, number][] = [
    ['its process is gone (killed with SIGKILL)', () => ({ pid: deadPid(), start: '12345', boot: bootId, pidns: pidNs }), 0],
    ['its pid now belongs to another process (pid reuse: another start time)', () => ({ pid: process.pid, start: '1', boot: bootId, pidns: pidNs }), 0],
    ['it was taken before a reboot (another boot id) and not renewed for 21 s', () => ({ pid: process.pid, start: startOf(process.pid), boot: 'another-boot', pidns: pidNs }), 21_000],
    ['its owner in another pid namespace stopped renewing it 21 s ago', () => ({ pid: 1, start: '1', boot: bootId, pidns: 'pid:[1]' }), 21_000],
    ['its owner file is unreadable and 21 s old', () => ({ pid: 'garbage' }), 21_000],
  ];
  for (const [name, owner, ageMs] of stale) {
    test(`a stale lock is taken over: ${name}`, async () => {
      const dir = tempDir();
      const planted = plantLock(dir, owner(), ageMs);
      const log = recorder();
      const lock = await lockCertDir(dir, who, log);
      try {
        assert.ok(!existsSync(planted), 'the stale owner file is gone');
        assert.equal(readdirSync(join(dir, LOCK_NAME)).length, 1);
        assert.ok(log.lines.includes('took over the cert_dir lock of a helper that is gone'));
      } finally {
        lock.release();
      }
    });
  }

  const live: [string, () => Record<string, unknown>, number, RegExp][] = [
    ['same pid namespace: its pid and start time match a running process', () => ({ pid: process.pid, start: startOf(process.pid), boot: bootId, pidns: pidNs }), 3_600_000, /pid \d+ \(/],
    ['another pid namespace, renewed 5 s ago', () => ({ pid: 1, start: '1', boot: bootId, pidns: 'pid:[1]' }), 5_000, /pid 1 on host h.*another pid namespace or on another host.*last was 5 s ago/],
    ['another host (another boot id), renewed just now', () => ({ pid: 7, start: '1', boot: 'another-boot', pidns: 'pid:[1]', host: 'node-b' }), 0, /pid 7 on host node-b/],
  ];
  for (const [name, owner, ageMs, re] of live) {
    test(`a live lock is respected: ${name}`, async () => {
      const dir = tempDir();
      const planted = plantLock(dir, owner(), ageMs);
      await assert.rejects(lockCertDir(dir, who, silentLogger), isBusy(re));
      assert.ok(existsSync(planted), 'the owner file is untouched');
      assert.deepEqual(readdirSync(dir), [LOCK_NAME], 'no candidate left behind');
    });
  }

  test('the holder renews its owner file every 5 s: what helpers in other pid namespaces judge it by', async () => {
    const dir = tempDir();
    const lock = await lockCertDir(dir, who, silentLogger);
    try {
      const owner = join(dir, LOCK_NAME, readdirSync(join(dir, LOCK_NAME))[0]!);
      const old = new Date(Date.now() - 60_000);
      utimesSync(owner, old, old);
      await new Promise((r) => setTimeout(r, 5_500));
      assert.ok(Date.now() - statSync(owner).mtimeMs < 2_000, 'renewed');
    } finally {
      lock.release();
    }
  });

  test('a FIFO planted as the owner file neither blocks the helper nor counts as a live owner', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    mkdirSync(join(dir, LOCK_NAME));
    const fifo = join(dir, LOCK_NAME, 'owner.0123456789abcdef0123456789abcdef');
    execFileSync('mkfifo', [fifo]);
    const old = new Date(Date.now() - 21_000);
    utimesSync(fifo, old, old);
    const lock = await lockCertDir(dir, who, silentLogger);
    try {
      assert.ok(!existsSync(fifo), 'unreadable as an owner and not renewed for 21 s: taken over');
    } finally {
      lock.release();
    }
  });

  test('something else at the lock path is an output error naming it, never overwritten', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_NAME), 'mine');
    await assert.rejects(lockCertDir(dir, who, silentLogger), (e) => isHelperError(e, 'output') && /is in the way of the cert_dir lock/.test(e.message));
    assert.equal(readFileSync(join(dir, LOCK_NAME), 'utf8'), 'mine');
  });

  for (const withStale of [false, true]) {
    test(`N helpers starting at the same instant${withStale ? ' over a stale lock' : ''}: exactly one wins, the others are busy`, async () => {
      const N = 8;
      const dir = tempDir();
      if (withStale) plantLock(dir, { pid: deadPid(), start: '12345', boot: bootId, pidns: pidNs });
      const children = Array.from({ length: N }, () => spawn(process.execPath, ['--import', 'tsx', contender, dir], { stdio: ['pipe', 'pipe', 'inherit'] }));
      const lines = children.map((c) => c.stdout!.setEncoding('utf8')[Symbol.asyncIterator]());
      const line = async (i: number) => String((await lines[i]!.next()).value ?? 'exited').trim();
      await Promise.all(children.map((_, i) => line(i))); // every contender loaded and waiting
      const startAt = Date.now() + 300;
      children.forEach((c) => c.stdin!.write(`${startAt}\n`));
      const results = await Promise.all(children.map((_, i) => line(i)));
      children.forEach((c) => c.stdin!.end());
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
      const outcomes = results.map((r) => r.split(' ')[0]);
      const late = Math.max(...results.map((r) => Number(r.split(' ')[1])));
      console.log(`# ${N} contenders at once${withStale ? ' over a stale lock' : ''}: ${outcomes.join(' ')}; the last started ${late} ms after the common start time`);
      assert.equal(outcomes.filter((o) => o === 'won').length, 1, outcomes.join(' '));
      assert.equal(outcomes.filter((o) => o === 'busy').length, N - 1, outcomes.join(' '));
      assert.deepEqual(readdirSync(dir), [], 'the winner released the lock; no candidate left');
    });
  }
});

test('a candidate left by a helper killed while taking the lock is removed once older than the lease; a fresh one is not', async () => {
  const dir = tempDir();
  const [abandoned, fresh] = ['0'.repeat(32), 'f'.repeat(32)].map((hex) => join(dir, `.${LOCK_NAME}.${hex}.tmp`)) as [string, string];
  for (const d of [abandoned, fresh]) mkdirSync(d);
  const old = new Date(Date.now() - 60_000);
  utimesSync(abandoned, old, old);
  const lock = await lockCertDir(dir, who, silentLogger);
  lock.release();
  assert.ok(!existsSync(abandoned), 'abandoned candidate removed');
  assert.ok(existsSync(fresh), 'a candidate of a helper acquiring right now is left alone');
});

describe('output directory locks (file names that are paths)', () => {
  const outputs = (certDir: string, jwt: string) => ({ certDir, x509: undefined, jwtBundleFileName: undefined, jwtSvids: [{ audience: 'a', extraAudiences: [], fileName: jwt }] });

  test('two helpers with different cert_dirs writing one JWT file elsewhere: the second is busy on that directory; nothing is left locked', async () => {
    const root = tempDir();
    const shared = join(root, 'jwts');
    const first = await lockOutputDirs(outputs(join(root, 'a'), '../jwts/aws.jwt'), who, silentLogger);
    try {
      assert.ok(existsSync(join(shared, LOCK_NAME)), 'the directory of a path output is locked too');
      await assert.rejects(lockOutputDirs(outputs(join(root, 'b'), '../jwts/aws.jwt'), who, silentLogger), isBusy(new RegExp(`cert_dir ${shared} is in use by another spiffe-helper`)));
      assert.equal(existsSync(join(root, 'b', LOCK_NAME)), false, 'the lock taken before the busy one was released');
    } finally {
      first.release();
    }
    assert.deepEqual(readdirSync(shared), [], 'released: no lock left');
    (await lockOutputDirs(outputs(join(root, 'b'), '../jwts/aws.jwt'), who, silentLogger)).release();
  });

  test("a cert_dir no output is written to (every name a path elsewhere) is neither created nor locked: it may be read-only, as a container's working directory is", async () => {
    const root = tempDir();
    const readOnly = join(root, 'workdir');
    mkdirSync(readOnly);
    execFileSync('chattr', ['+i', readOnly]);
    try {
      const lock = await lockOutputDirs(outputs(readOnly, '../jwts/aws.jwt'), who, silentLogger);
      assert.ok(existsSync(join(root, 'jwts', LOCK_NAME)), 'the directory written is locked');
      lock.release();
      assert.deepEqual(readdirSync(readOnly), []);
    } finally {
      execFileSync('chattr', ['-i', readOnly]);
    }
  });

  test('all or none: busy on one directory, the lock already taken on another (cert_dir) is released', async () => {
    const root = tempDir();
    const shared = join(root, 'jwts');
    const first = await lockOutputDirs(outputs(join(root, 'a'), '../jwts/aws.jwt'), who, silentLogger);
    try {
      const both = { ...outputs(join(root, 'b'), '../jwts/aws.jwt'), jwtBundleFileName: 'bundle.json' };
      await assert.rejects(lockOutputDirs(both, who, silentLogger), isBusy(new RegExp(`cert_dir ${shared} is in use`)));
      assert.deepEqual(readdirSync(join(root, 'b')), [], 'cert_dir b was locked first (by real path), then released');
    } finally {
      first.release();
    }
  });

  test('the directory of an output that cannot be created (its parent is a file): the error names that output, not cert_dir', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'f'), 'a file');
    await assert.rejects(
      lockOutputDirs(outputs(root, 'f/aws.jwt'), who, silentLogger),
      (e) => isHelperError(e, 'output') && new RegExp(`^the directory of "f/aws\\.jwt" \\(${root}/f\\): cannot create it`).test(e.message),
    );
  });

  test('one directory named two ways is locked once', async () => {
    const root = tempDir();
    const lock = await lockOutputDirs(outputs(root, `./${'x.jwt'}`), who, silentLogger);
    lock.release();
    assert.deepEqual(readdirSync(root), []);
  });
});

test('two writes at once into a cert_dir re-pointed since the start: the lock there is taken once, both land', async () => {
  const root = tempDir();
  const [a, b, certs] = [join(root, 'a'), join(root, 'b'), join(root, 'certs')];
  mkdirSync(a);
  mkdirSync(b);
  symlinkSync(a, certs);
  const lock = await lockOutputDirs({ certDir: certs, x509: undefined, jwtBundleFileName: undefined, jwtSvids: [{ audience: 'a', extraAudiences: [], fileName: 'x.jwt' }] }, who, silentLogger);
  try {
    rmSync(certs);
    symlinkSync(b, certs);
    // The X.509 and JWT pipelines write independently: the first writes after the move may overlap.
    await Promise.all(['x.jwt', 'y.jwt'].map((n) => writeFilesAtomic([{ path: join(certs, n), data: n, mode: 0o600 }], lock.guard)));
    assert.deepEqual(readdirSync(b).sort(), [LOCK_NAME, 'x.jwt', 'y.jwt']);
    assert.equal(existsSync(join(a, LOCK_NAME)), false, 'the lock of the directory no longer written is released');
  } finally {
    lock.release();
  }
  assert.deepEqual(readdirSync(b).sort(), ['x.jwt', 'y.jwt'], 'released at the end, where it was moved');
});
