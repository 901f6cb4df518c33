/**
 * The temporaries of writes that did not finish (atomic-write.ts, swap-dir.ts): removed when a
 * write fails, and looked for once per target and process, since a helper killed mid-write left
 * its own behind for no one else to remove.
 */
import { unlinkSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempTarget } from './names.js';

/** Targets whose stale temporaries this process has already looked for. */
const swept = new Set<string>();

/**
 * A helper killed between creating a temporary and renaming it leaves `.<name>.<hex>.tmp`
 * behind (holding a private key, for the key file), and nothing else would ever remove it.
 * The first write of each target in a process removes such leftovers of those targets only:
 * the exact shape the helper creates, for a name it writes.
 */
export async function sweepStaleTemps(dir: string, names: readonly string[]): Promise<void> {
  const fresh = new Set(names.filter((n) => !swept.has(join(dir, n))));
  if (fresh.size === 0) return;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return; // the write itself will report the problem
  }
  for (const entry of entries) {
    const target = tempTarget(entry);
    if (target !== undefined && fresh.has(target)) await unlink(join(dir, entry)).catch(() => undefined);
  }
  for (const name of fresh) swept.add(join(dir, name));
}

/**
 * Removes a temporary of a failed write. One that cannot be removed now (a directory that takes
 * new entries but refuses removals, as an append-only one does) is looked for again by the next
 * write of its target, instead of waiting for the next start.
 */
export function discardTemp(temp: string): void {
  try {
    unlinkSync(temp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // never created, or already renamed
    swept.delete(join(dirname(temp), tempTarget(basename(temp))!));
  }
}
