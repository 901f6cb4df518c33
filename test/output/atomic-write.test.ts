import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { writeFilesAtomic } from '../../src/output/atomic-write.js';
import { writeFilesSwapDir } from '../../src/output/swap-dir.js';
import { tempDir } from '../helpers/tmp.js';
import { flipper } from './fixtures/flipper.js';

const TMPFS = 0x01021994;
const shm = existsSync('/dev/shm') && Number(statfsSync('/dev/shm').type) === TMPFS ? '/dev/shm' : undefined;
const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

// On disk the writes fsync; on tmpfs they skip the fsyncs. The result must be the same.
const places: [string, () => string][] = [['a disk file system', () => tempDir('atomic-')]];
if (shm) {
  places.push([
    'tmpfs (fsync skipped)',
    () => {
      const dir = mkdtempSync(join(shm, 'atomic-'));
      roots.push(dir);
      return dir;
    },
  ]);
}

for (const [where, makeDir] of places) {
  describe(`writeFilesAtomic on ${where}`, () => {
    it('writes every file with its mode whatever the umask, replaces old content, leaves no temporary', async () => {
      const dir = makeDir();
      writeFileSync(join(dir, 'key.pem'), 'old key', { mode: 0o644 });
      const old = process.umask(0o077);
      try {
        await writeFilesAtomic([
          { path: join(dir, 'cert.pem'), data: 'cert', mode: 0o644 },
          { path: join(dir, 'key.pem'), data: Buffer.from('key'), mode: 0o600 },
        ]);
      } finally {
        process.umask(old);
      }
      assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), 'cert');
      assert.equal(readFileSync(join(dir, 'key.pem'), 'utf8'), 'key');
      assert.equal(statSync(join(dir, 'cert.pem')).mode & 0o777, 0o644);
      assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(dir).sort(), ['cert.pem', 'key.pem']);
    });

    it('a set that cannot be written whole changes nothing and leaves no temporary', async () => {
      const dir = makeDir();
      writeFileSync(join(dir, 'cert.pem'), 'old cert');
      // The second file's directory is missing: its temporary cannot be created.
      await assert.rejects(
        writeFilesAtomic([
          { path: join(dir, 'cert.pem'), data: 'new cert', mode: 0o644 },
          { path: join(dir, 'gone', 'key.pem'), data: 'key', mode: 0o600 },
        ]),
        (e) => isHelperError(e, 'output') && /directory does not exist/.test(e.message),
      );
      assert.deepEqual(readdirSync(dir), ['cert.pem']);
      assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), 'old cert');
    });

    it('a rename that fails after others succeeded says the set is mixed (never "unchanged")', async () => {
      const dir = makeDir();
      // An immutable file where the second file must go: only its rename fails. (A directory
      // there is refused before any rename: output-names.test.ts.)
      writeFileSync(join(dir, 'key.pem'), 'old key');
      execFileSync('chattr', ['+i', join(dir, 'key.pem')]);
      try {
        await assert.rejects(
          writeFilesAtomic([
            { path: join(dir, 'cert.pem'), data: 'new cert', mode: 0o644 },
            { path: join(dir, 'key.pem'), data: 'key', mode: 0o600 },
          ]),
          (e) => isHelperError(e, 'output') && /the set on disk is mixed/.test(e.message),
        );
      } finally {
        execFileSync('chattr', ['-i', join(dir, 'key.pem')]);
      }
      assert.deepEqual(readdirSync(dir).sort(), ['cert.pem', 'key.pem'], 'no temporary left');
    });

    it('temporaries a failed write could not remove (an append-only directory: created, never renamed nor unlinked) are removed by the next write in the same process', async () => {
      const dir = makeDir();
      const files = [
        { path: join(dir, 'cert.pem'), data: 'cert', mode: 0o644 },
        { path: join(dir, 'key.pem'), data: 'key', mode: 0o600 },
      ];
      await writeFilesAtomic(files);
      execFileSync('chattr', ['+a', dir]);
      try {
        await assert.rejects(writeFilesAtomic(files), (e) => isHelperError(e, 'output'));
        assert.equal(readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 2, 'the fault left both temporaries');
      } finally {
        execFileSync('chattr', ['-a', dir]);
      }
      await writeFilesAtomic(files);
      assert.deepEqual(readdirSync(dir).sort(), ['cert.pem', 'key.pem'], 'no temporary left once the directory accepts removals again');
    });

    it('atomic_dir: the temporary link a failed swap could not remove (append-only directory) is removed by the next swap in the same process', async () => {
      const dir = makeDir();
      const swap = async () => (await writeFilesSwapDir(dir, [{ path: join(dir, 'cert.pem'), data: 'cert', mode: 0o644 }])).removeOldVersions();
      await swap();
      execFileSync('chattr', ['+a', dir]);
      try {
        await assert.rejects(swap(), (e) => isHelperError(e, 'output'));
        assert.equal(readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 1, 'the fault left the temporary ..data link');
      } finally {
        execFileSync('chattr', ['-a', dir]);
      }
      await swap();
      assert.deepEqual(
        readdirSync(dir).filter((n) => n.endsWith('.tmp')),
        [],
      );
      assert.equal(readdirSync(dir).filter((n) => /^\.\.\d{4}_/.test(n)).length, 2, 'the current and the previous version; the failed one is gone');
    });

    it('the atomic_dir layout writes a version directory and links to it', async () => {
      const dir = makeDir();
      await writeFilesSwapDir(dir, [
        { path: join(dir, 'cert.pem'), data: 'cert 1', mode: 0o644 },
        { path: join(dir, 'key.pem'), data: 'key 1', mode: 0o600 },
      ]);
      await writeFilesSwapDir(dir, [
        { path: join(dir, 'cert.pem'), data: 'cert 2', mode: 0o644 },
        { path: join(dir, 'key.pem'), data: 'key 2', mode: 0o600 },
      ]);
      assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), 'cert 2');
      assert.equal(readFileSync(join(dir, 'key.pem'), 'utf8'), 'key 2');
      assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
    });
  });
}

it('a stale temporary of a target is removed by the first write of that target; others stay', async () => {
  const dir = tempDir('atomic-');
  const hex = '0123456789abcdef0123456789abcdef';
  writeFileSync(join(dir, `.cert.pem.${hex}.tmp`), 'stale');
  writeFileSync(join(dir, `.other.pem.${hex}.tmp`), 'not ours to remove');
  writeFileSync(join(dir, '.cert.pem.0123456789ab.tmp'), 'not the shape the helper makes');
  await writeFilesAtomic([{ path: join(dir, 'cert.pem'), data: 'cert', mode: 0o644 }]);
  assert.deepEqual(readdirSync(dir).sort(), ['.cert.pem.0123456789ab.tmp', `.other.pem.${hex}.tmp`, 'cert.pem']);
});

// File names may hold any byte but "/" and NUL; a stale temporary of each is still recognised as one.
const UNUSUAL_NAMES: [string, string][] = [
  ['a newline', 'svid\n.pem'],
  ['a carriage return', 'svid\r.pem'],
  ['only a newline', '\n'],
  ['U+2028 LINE SEPARATOR', 'svid\u2028.pem'],
  ['U+2029 PARAGRAPH SEPARATOR', 'svid\u2029.pem'],
  ['a trailing newline', 'svid.pem\n'],
];
for (const [name, file] of UNUSUAL_NAMES) {
  it(`a name with ${name}: its stale temporary is removed by its first write`, async () => {
    const dir = tempDir('atomic-');
    writeFileSync(join(dir, `.${file}.0123456789abcdef0123456789abcdef.tmp`), 'stale key');
    await writeFilesAtomic([{ path: join(dir, file), data: 'key', mode: 0o600 }]);
    assert.deepEqual(readdirSync(dir), [file]);
  });
}

it('temporaries are unpredictable: `.<name>.<32 random hex>.tmp`, never the same twice, in both layouts', async () => {
  const dir = tempDir('atomic-');
  const seen: string[] = [];
  const watcher = watch(dir, (_event, name) => name && /\.tmp$/.test(name) && seen.push(name));
  try {
    for (let i = 0; i < 20; i++) {
      const files = [
        { path: join(dir, 'cert.pem'), data: `cert ${i}`, mode: 0o644 },
        { path: join(dir, 'key.pem'), data: `key ${i}`, mode: 0o600 },
      ];
      await (i % 2 ? writeFilesSwapDir(dir, files) : writeFilesAtomic(files));
    }
    await new Promise((r) => setTimeout(r, 100)); // let the last events arrive
  } finally {
    watcher.close();
  }
  const names = [...new Set(seen)];
  assert.ok(names.length >= 20, `temporaries seen: ${names.length}`);
  for (const name of names) assert.match(name, /^\.(cert\.pem|key\.pem|\.\.data)\.[0-9a-f]{32}\.tmp$/);
  assert.ok(
    names.some((n) => n.startsWith('...data.')),
    'the ..data link is swapped in from a random name too',
  );
  const randomParts = names.map((n) => /\.([0-9a-f]{32})\.tmp$/.exec(n)![1]!);
  assert.equal(new Set(randomParts).size, randomParts.length, 'no random part repeats');
  // Counted names from one per-process prefix would share it; random ones share no long prefix.
  assert.ok(new Set(randomParts.map((r) => r.slice(0, 8))).size > randomParts.length / 2, 'no shared prefix');
});

for (const layout of ['files', 'atomic_dir'] as const) {
  it(`cert_dir a symlink flipped between two directories during ${layout} writes: no temporary left anywhere`, async () => {
    const root = tempDir('flip-');
    const [a, b, link] = ['a', 'b', 'certs'].map((n) => join(root, n)) as [string, string, string];
    mkdirSync(a);
    mkdirSync(b);
    symlinkSync(a, link);
    const WRITES = 150;
    let failed = 0;
    const flip = flipper(link, a, b);
    try {
      await new Promise((r) => setTimeout(r, 200)); // flipping is under way
      for (let i = 0; i < WRITES; i++) {
        const files = ['svid.pem', 'svid_key.pem', 'bundle.pem'].map((n) => ({ path: join(link, n), data: `${n} ${i}`, mode: n.includes('key') ? 0o600 : 0o644 }));
        await (layout === 'files' ? writeFilesAtomic(files) : writeFilesSwapDir(link, files)).catch(() => failed++);
      }
    } finally {
      await flip.stop();
    }
    const left = [a, b].flatMap((d) => readdirSync(d).filter((n) => /\.tmp$|^\.\.data_tmp$/.test(n)));
    console.log(`# ${layout}: ${WRITES} writes while cert_dir flipped, ${failed} failed, ${left.length} temporaries left`);
    assert.deepEqual(left, []);
    assert.equal(failed, 0, 'every write went wholly to one directory');
  });
}

it('atomic_dir clean-up removes only its own old version directories and links', async () => {
  const dir = tempDir('atomic-');
  const set = (n: number, names = ['cert.pem', 'key.pem']) => names.map((name) => ({ path: join(dir, name), data: `${name} ${n}`, mode: 0o600 }));
  await writeFilesSwapDir(dir, set(1, ['cert.pem', 'key.pem', 'extra.pem']));
  const ownOld = readdirSync(dir).find((n) => n.startsWith('..2'))!;
  // Look-alikes a user (or another tool) put there: a file with a version's exact name, a
  // directory whose suffix is not mkdtemp's six characters, a link into ..data under another name.
  writeFileSync(join(dir, '..2020_01_01_00_00_00.abcdef'), 'a file, not a version directory');
  mkdirSync(join(dir, '..2020_01_01_00_00_00.notes-dir'));
  symlinkSync('..data/cert.pem', join(dir, 'my-cert-link.pem'));
  await writeFilesSwapDir(dir, set(2));
  const removed = await (await writeFilesSwapDir(dir, set(3))).removeOldVersions();
  assert.deepEqual(removed, [ownOld]);
  const entries = readdirSync(dir);
  assert.ok(!entries.includes(ownOld), "the helper's own old version is removed");
  assert.ok(!entries.includes('extra.pem'), 'the link of a name no longer written is removed');
  for (const kept of ['..2020_01_01_00_00_00.abcdef', '..2020_01_01_00_00_00.notes-dir', 'my-cert-link.pem']) assert.ok(entries.includes(kept), `${kept} kept`);
});

it('atomic_dir: a directory planted at ..data_tmp neither fails the swap nor is touched', async () => {
  const dir = tempDir('atomic-');
  mkdirSync(join(dir, '..data_tmp'));
  writeFileSync(join(dir, '..data_tmp', 'x'), 'planted');
  await writeFilesSwapDir(dir, [{ path: join(dir, 'cert.pem'), data: 'cert', mode: 0o644 }]);
  assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), 'cert');
  assert.equal(readFileSync(join(dir, '..data_tmp', 'x'), 'utf8'), 'planted');
});

describe('writeFilesAtomic with files in several directories (file names that are paths)', () => {
  it('writes each file in its own directory, leaving no temporary in either', async () => {
    const root = tempDir('atomic-');
    mkdirSync(join(root, 'certs'));
    mkdirSync(join(root, 'keys'));
    await writeFilesAtomic([
      { path: join(root, 'certs', 'svid.pem'), data: 'cert', mode: 0o644 },
      { path: join(root, 'keys', 'svid_key.pem'), data: 'key', mode: 0o600 },
    ]);
    assert.deepEqual(readdirSync(join(root, 'certs')), ['svid.pem']);
    assert.deepEqual(readdirSync(join(root, 'keys')), ['svid_key.pem']);
    assert.equal(statSync(join(root, 'keys', 'svid_key.pem')).mode & 0o777, 0o600);
  });

  it('a directory that cannot be written fails the whole set before any rename: the other directory keeps its old file and no temporary', async () => {
    const root = tempDir('atomic-');
    mkdirSync(join(root, 'certs'));
    writeFileSync(join(root, 'certs', 'svid.pem'), 'old');
    await assert.rejects(
      writeFilesAtomic([
        { path: join(root, 'certs', 'svid.pem'), data: 'new', mode: 0o644 },
        { path: join(root, 'missing', 'svid_key.pem'), data: 'key', mode: 0o600 },
      ]),
      (e) => isHelperError(e, 'output') && /cannot write svid_key\.pem in \S+\/missing: directory does not exist; the previous files are unchanged/.test(e.message),
    );
    assert.equal(readFileSync(join(root, 'certs', 'svid.pem'), 'utf8'), 'old');
    assert.deepEqual(readdirSync(join(root, 'certs')), ['svid.pem']);
  });
});
