import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { writeFilesAtomic } from '../../src/output/atomic-write.js';
import { writeFilesSwapDir } from '../../src/output/swap-dir.js';
import { tempDir } from '../helpers/tmp.js';

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
      mkdirSync(join(dir, 'key.pem')); // a directory where the second file must go
      await assert.rejects(
        writeFilesAtomic([
          { path: join(dir, 'cert.pem'), data: 'new cert', mode: 0o644 },
          { path: join(dir, 'key.pem'), data: 'key', mode: 0o600 },
        ]),
        (e) => isHelperError(e, 'output') && /the set on disk is mixed/.test(e.message),
      );
      assert.deepEqual(readdirSync(dir).sort(), ['cert.pem', 'key.pem'], 'no temporary left');
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
  writeFileSync(join(dir, '.cert.pem.0123456789ab.tmp'), 'stale');
  writeFileSync(join(dir, '.other.pem.0123456789ab.tmp'), 'not ours to remove');
  await writeFilesAtomic([{ path: join(dir, 'cert.pem'), data: 'cert', mode: 0o644 }]);
  assert.deepEqual(readdirSync(dir).sort(), ['.other.pem.0123456789ab.tmp', 'cert.pem']);
});
