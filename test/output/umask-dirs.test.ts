/**
 * The directories the helper creates (cert_dir and its parents, the directory of an output named
 * by a path, the lock, the atomic_dir versions) must stay usable by the helper whatever its umask:
 * 0755 less the umask, but never less than the owner's rwx. Root ignores permissions, so each
 * case runs in a child as nobody (setpriv).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const NOBODY = 65534;
const canDrop = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
const src = (f: string) => JSON.stringify(new URL(`../../src/output/${f}`, import.meta.url).pathname);
const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** Runs `body` as nobody with `umask`, in a directory nobody owns; returns that directory. */
function asNobody(umask: number, body: string): string {
  const root = mkdtempSync('/tmp/umask-');
  roots.push(root);
  chownSync(root, NOBODY, NOBODY);
  const script = `
    import { lockOutputDirs } from ${src('output-dir-locks.ts')};
    import { writeFilesAtomic } from ${src('atomic-write.ts')};
    import { writeFilesSwapDir } from ${src('swap-dir.ts')};
    const log = { debug() {}, info() {}, warn() {}, error() {} };
    const root = ${JSON.stringify(root)};
    process.umask(0o${umask.toString(8)});
    ${body}`;
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: new URL('../../', import.meta.url).pathname,
  });
  assert.equal(r.status, 0, r.stderr);
  return root;
}

describe('directories the helper creates, whatever the umask', { skip: !canDrop && 'needs root and setpriv to run as nobody' }, () => {
  for (const umask of [0o277, 0o777, 0o377]) {
    it(`umask 0${umask.toString(8)}: cert_dir (two levels deep) and a path output's directory are created, locked and written, both layouts; owner rwx kept`, () => {
      const root = asNobody(
        umask,
        `
        const certDir = root + '/a/certs';
        const lock = await lockOutputDirs({ certDir, x509: undefined, jwtBundleFileName: undefined, jwtSvids: [{ audience: 'x', extraAudiences: [], fileName: 'x.jwt' }, { audience: 'y', extraAudiences: [], fileName: 'sub/y.jwt' }] }, { mode: 'once', config: 'c' }, log);
        await writeFilesAtomic([{ path: certDir + '/x.jwt', data: 'x', mode: 0o600 }, { path: certDir + '/sub/y.jwt', data: 'y', mode: 0o600 }]);
        await writeFilesSwapDir(certDir, [{ path: certDir + '/k.pem', data: 'k', mode: 0o600 }]);
        lock.release();`,
      );
      const certDir = join(root, 'a', 'certs');
      for (const d of [join(root, 'a'), certDir, join(certDir, 'sub')]) assert.equal(statSync(d).mode & 0o777, (0o755 & ~umask) | 0o700, d);
      assert.deepEqual(
        readdirSync(certDir)
          .filter((n) => !n.startsWith('..2'))
          .sort(),
        ['..data', 'k.pem', 'sub', 'x.jwt'],
      );
    });
  }
});
