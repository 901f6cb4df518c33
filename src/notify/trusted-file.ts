import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Stats } from 'node:fs';

/**
 * Reads a file only if nobody but the helper's user and root could have chosen its content:
 * a pid file that someone else can write lets them pick which process the helper signals (as
 * root: any process). The file must be a regular file owned by the helper's user or root and
 * writable by nobody else. So must every directory on the way to it, and every symlink on the
 * way: whoever can write a directory can rename another file of it over the pid file (another
 * daemon's pid file holds another pid) or swap a whole subtree. A world-writable directory with
 * the sticky bit (/tmp) is accepted, since there nobody can rename or remove another's entries.
 *
 * Resolves with the content (of at most `maxBytes`), or rejects with an Error saying what is untrusted and why.
 */
export async function readTrustedFile(path: string, maxBytes: number): Promise<string> {
  const real = await walk(resolve(path));
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${real} is not a regular file`);
    refuseIfWritableByOthers(real, st, 'file');
    if (st.size > maxBytes) throw new Error(`${real} holds ${st.size} bytes, more than the ${maxBytes} expected`);
    // Read through the descriptor just checked: a file renamed over the path since is not read.
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

const MAX_SYMLINKS = 40;

/** Checks every directory and symlink from / to `path`; returns the path with symlinks resolved. */
async function walk(path: string): Promise<string> {
  let dir = '/';
  refuseIfWritableByOthers(dir, await lstat(dir), 'directory');
  const todo = path.split('/').filter(Boolean);
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    const at = join(dir, name);
    if (name === '..' || name === '.') {
      dir = at;
      continue;
    }
    const st = await lstat(at);
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new Error(`${path}: too many symlinks`);
      refuseIfWritableByOthers(at, st, 'symlink');
      const target = await readlink(at);
      todo.unshift(...target.split('/').filter(Boolean));
      if (isAbsolute(target)) dir = '/';
      continue;
    }
    if (todo.length === 0) return at;
    refuseIfWritableByOthers(at, st, 'directory');
    dir = at;
  }
  return dir;
}

function refuseIfWritableByOthers(path: string, st: Stats, kind: 'file' | 'directory' | 'symlink'): void {
  const me = process.getuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== me) {
    throw new Error(`${kind} ${path} is owned by uid ${st.uid}, neither root nor the helper's user (uid ${me}), who could choose its content`);
  }
  // A symlink's own mode means nothing; its owner and its directory decide.
  if (kind === 'symlink') return;
  const writable = st.mode & 0o022;
  const sticky = kind === 'directory' && (st.mode & 0o1000) !== 0;
  if (writable && !sticky) {
    const who = st.mode & 0o002 ? 'everyone' : `group ${st.gid}`;
    throw new Error(`${kind} ${path} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
  }
}
