/**
 * Whether a file on disk is still the one the helper wrote: what readiness compares at probe
 * time, so that a set deleted, replaced or changed in place behind the helper's back is seen.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/**
 * A file as the helper left it. `id` changes with any replacement, truncation, write or chmod
 * (inode, size, mtime in ns, mode); a write that kept the inode, the size and a restored mtime
 * (`cp -p` over it) still moves ctime, which nobody can set back, and then the content is
 * compared. A chown (or a hard link) moves ctime alone and keeps the file as written: an
 * operator giving the key to the consumer's user is not a replacement.
 */
export interface Seen {
  id: string;
  ctimeNs: bigint;
  digest: string;
}

export function see(path: string): Seen | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return { id: `${st.ino}:${st.size}:${st.mtimeNs}:${st.mode}`, ctimeNs: st.ctimeNs, digest: digestOf(path) };
  } catch {
    return undefined;
  }
}

function digestOf(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Whether the file at `path` is still the one `seen`; a content check only when ctime moved. */
export function unchanged(path: string, seen: Seen | undefined): boolean {
  if (!seen) return false;
  try {
    const st = statSync(path, { bigint: true });
    if (`${st.ino}:${st.size}:${st.mtimeNs}:${st.mode}` !== seen.id) return false;
    if (st.ctimeNs === seen.ctimeNs) return true;
    if (digestOf(path) !== seen.digest) return false;
    seen.ctimeNs = st.ctimeNs;
    return true;
  } catch {
    return false;
  }
}
