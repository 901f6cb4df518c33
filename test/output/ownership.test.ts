/**
 * Ownership of the files the helper writes: a rewrite keeps the owner an operator gave the file
 * (PostgreSQL wants its key owned by postgres), file_owner / file_group set it. Runs as root
 * (chown needs it); the case of a helper that may not chown runs a child without CAP_CHOWN.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { writeFilesAtomic } from '../../src/output/atomic-write.js';
import { resolveId, setFileOwnership } from '../../src/output/ownership.js';
import { writeFilesSwapDir } from '../../src/output/swap-dir.js';
import { tempDir } from '../helpers/tmp.js';

const root = process.getuid?.() === 0;
const noSetpriv = spawnSync('setpriv', ['--version']).status !== 0 && 'needs setpriv (util-linux) to drop CAP_CHOWN';
const owner = (path: string) => `${statSync(path).uid}:${statSync(path).gid}`;
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

afterEach(() => setFileOwnership({}, silentLogger));

/**
 * Runs `body` (with writeFilesAtomic, setFileOwnership and a `log` printing WARN lines) in a
 * child without CAP_CHOWN (setpriv drops it from the bounding set): a helper that may not chown.
 */
function asNobody(body: string) {
  const src = (f: string) => JSON.stringify(new URL(`../../src/output/${f}`, import.meta.url).pathname);
  const script = `
    import { writeFilesAtomic } from ${src('atomic-write.ts')};
    import { setFileOwnership } from ${src('ownership.ts')};
    const log = { debug() {}, info() {}, error() {}, warn: (m) => console.log('WARN ' + m) };
    ${body}`;
  const r = spawnSync('setpriv', ['--bounding-set=-chown', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: new URL('../../', import.meta.url).pathname,
  });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

const layouts = [
  ['files', (dir: string, files: { path: string; data: string; mode: number }[]) => writeFilesAtomic(files)],
  ['atomic_dir', (dir: string, files: { path: string; data: string; mode: number }[]) => writeFilesSwapDir(dir, files)],
] as const;

describe('ownership of rewritten files', { skip: !root && 'needs root (chown)' }, () => {
  for (const [layout, write] of layouts) {
    it(`${layout}: a key chowned to uid 70 by the operator is still 70:70 after a rotation, with its mode`, async () => {
      const dir = tempDir('own-');
      const key = join(dir, 'svid_key.pem');
      const cert = join(dir, 'svid.pem');
      await write(dir, [
        { path: cert, data: 'cert 1', mode: 0o644 },
        { path: key, data: 'key 1', mode: 0o600 },
      ]);
      chownSync(key, 70, 70);
      await write(dir, [
        { path: cert, data: 'cert 2', mode: 0o644 },
        { path: key, data: 'key 2', mode: 0o600 },
      ]);
      assert.equal(readFileSync(key, 'utf8'), 'key 2');
      assert.equal(owner(key), '70:70');
      assert.equal(mode(key), '600');
      assert.equal(owner(cert), '0:0', "a file nobody chowned stays the helper's");
    });

    it(`${layout}: file_owner / file_group set the owner of created and rewritten files`, async () => {
      const dir = tempDir('own-');
      setFileOwnership({ uid: 71, gid: 72 }, silentLogger);
      const key = join(dir, 'key.pem');
      await write(dir, [{ path: key, data: 'key 1', mode: 0o640 }]);
      assert.equal(owner(key), '71:72');
      assert.equal(mode(key), '640');
      setFileOwnership({ gid: 73 }, silentLogger);
      await write(dir, [{ path: key, data: 'key 2', mode: 0o640 }]);
      assert.equal(owner(key), '71:73', 'group set, owner kept from the previous file');
    });
  }

  for (const [layout, write] of layouts) {
    it(`${layout}: in a setgid cert_dir (a pod's fsGroup volume) new files get its group, at creation and after a rotation`, async () => {
      const dir = tempDir('own-');
      chownSync(dir, 0, 74);
      chmodSync(dir, 0o2775);
      const key = join(dir, 'key.pem');
      for (const data of ['key 1', 'key 2']) {
        await write(dir, [{ path: key, data, mode: 0o640 }]);
        assert.equal(owner(key), '0:74', `${data}: a group reader of the volume can read the 0640 key`);
      }
    });
  }

  it("a symlink planted under an output name does not lend its target's owner to the new file", async () => {
    const dir = tempDir('own-');
    const elsewhere = join(tempDir('own-'), 'theirs');
    writeFileSync(elsewhere, 'x');
    chownSync(elsewhere, 70, 70);
    symlinkSync(elsewhere, join(dir, 'key.pem'));
    await writeFilesAtomic([{ path: join(dir, 'key.pem'), data: 'key', mode: 0o600 }]);
    assert.equal(lstatSync(join(dir, 'key.pem')).isFile(), true, 'replaced, not followed');
    assert.equal(owner(join(dir, 'key.pem')), '0:0');
    assert.equal(owner(elsewhere), '70:70');
  });

  it('a helper that may not chown says so once and rewrites the files as its own (run without CAP_CHOWN)', { skip: noSetpriv }, () => {
    const dir = tempDir('own-');
    for (const f of ['a.pem', 'b.pem']) {
      writeFileSync(join(dir, f), 'old');
      chownSync(join(dir, f), 70, 70);
    }
    const r = asNobody(`
      setFileOwnership({}, log);
      const files = ['a.pem', 'b.pem'].map((f) => ({ path: ${JSON.stringify(dir)} + '/' + f, data: 'new', mode: 0o644 }));
      await writeFilesAtomic(files);
      await writeFilesAtomic(files.map((f) => ({ ...f, data: 'newer' })));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.match(/^WARN cannot keep the owner/gm)?.length, 1, r.stdout);
    assert.equal(owner(join(dir, 'a.pem')), '0:0');
    assert.equal(readFileSync(join(dir, 'b.pem'), 'utf8'), 'newer');
  });

  it('a configured owner the helper may not give is an output error naming the keys; the old file stays (run without CAP_CHOWN)', { skip: noSetpriv }, () => {
    const dir = tempDir('own-');
    writeFileSync(join(dir, 'k.pem'), 'old');
    const r = asNobody(`
      setFileOwnership({ uid: 70 }, log);
      await writeFilesAtomic([{ path: ${JSON.stringify(join(dir, 'k.pem'))}, data: 'new', mode: 0o600 }]).catch((e) => console.log('ERROR ' + e.code + ' ' + e.message));
    `);
    assert.match(r.stdout, /^ERROR output cannot give .*k\.pem the owner set by file_owner\/file_group \(70:0\): permission denied/m);
    assert.equal(readFileSync(join(dir, 'k.pem'), 'utf8'), 'old');
  });
});

describe('file_owner / file_group values', () => {
  const dir = tempDir('ids-');
  const files = { user: join(dir, 'passwd'), group: join(dir, 'group') };
  writeFileSync(files.user, 'root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70::/var/lib/postgresql:/bin/sh\n');
  writeFileSync(files.group, 'root:x:0:\npostgres:x:70:\nssl-cert:x:101:postgres\n');
  const cases: [string, 'user' | 'group', string | number, number | RegExp][] = [
    ['a user name', 'user', 'postgres', 70],
    ['a group name', 'group', 'ssl-cert', 101],
    ['a numeric id as a string', 'user', '1000', 1000],
    ['a numeric id as a number', 'group', 1000, 1000],
    ['an unknown user', 'user', 'nobody-here', /no user named "nobody-here" in .*passwd; give the numeric id instead/],
    ['a negative id', 'user', -1, /is not a user id/],
  ];
  for (const [name, kind, value, want] of cases) {
    it(name, () => {
      if (typeof want === 'number') assert.equal(resolveId(kind, value, files), want);
      else assert.throws(() => resolveId(kind, value, files), want);
    });
  }
});
