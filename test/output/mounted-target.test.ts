/**
 * A file bind-mounted over an output name (`docker run -v host.pem:/certs/svid_key.pem`) cannot
 * be replaced by a rename (EBUSY). Found only when its rename comes, it would leave the files
 * renamed before it new and it old: a certificate beside the wrong key, on every retry. It must
 * stop the write before any file is replaced. Needs root (mount).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { writeFilesAtomic } from '../../src/output/atomic-write.js';
import { writeFilesSwapDir } from '../../src/output/swap-dir.js';
import { tempDir } from '../helpers/tmp.js';

function canMount(): boolean {
  const dir = tempDir('mnt-');
  writeFileSync(join(dir, 'a'), '');
  writeFileSync(join(dir, 'b'), '');
  try {
    execFileSync('mount', ['--bind', join(dir, 'a'), join(dir, 'b')], { stdio: 'ignore' });
    execFileSync('umount', [join(dir, 'b')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const LAYOUTS = [
  ['files', (dir: string, files: { path: string; data: string; mode: number }[]) => writeFilesAtomic(files)],
  ['atomic_dir', (dir: string, files: { path: string; data: string; mode: number }[]) => writeFilesSwapDir(dir, files)],
] as const;

describe('a file bind-mounted at an output name', { skip: !canMount() && 'needs mount(8) rights' }, () => {
  for (const [layout, write] of LAYOUTS) {
    for (const mounted of ['svid.pem', 'svid_key.pem', 'bundle.pem']) {
      it(`${layout}, ${mounted} mounted: refused before any file is replaced, naming it; the set on disk stays one`, async () => {
        const dir = tempDir('mnt-');
        const set = (v: string) => ['svid.pem', 'svid_key.pem', 'bundle.pem'].map((n) => ({ path: join(dir, n), data: `${n} ${v}`, mode: 0o600 }));
        // Plain files, as Docker creates a file it bind-mounts (or as the files layout leaves them).
        await writeFilesAtomic(set('1'));
        const host = join(tempDir('mnt-host-'), 'host.pem');
        writeFileSync(host, readFileSync(join(dir, mounted)));
        execFileSync('mount', ['--bind', host, join(dir, mounted)]);
        try {
          await assert.rejects(write(dir, set('2')), (e) => isHelperError(e, 'output') && e.message.includes(`cannot write ${mounted} in `) && /mounted there/.test(e.message));
          for (const n of ['svid.pem', 'svid_key.pem', 'bundle.pem']) assert.equal(readFileSync(join(dir, n), 'utf8'), `${n} 1`, `${n}: the previous set stays whole`);
        } finally {
          execFileSync('umount', [join(dir, mounted)]);
        }
      });
    }
  }
});
