import { lstat, readdir, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { trustDomainInFileName } from '../config/trust-domain-pattern.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { resolveDir, type FileContent } from './atomic-write.js';

/**
 * Runs the clean-up that follows a complete write: files of trust domains no longer in the
 * set, old atomic_dir versions. The new files are already what readers see, so a failure here
 * is a warning, never a failed write: a retry would rewrite nothing and remove nothing more,
 * and reporting it as a failure would make a good rotation look refused.
 */
export async function cleanUpAfterWrite(log: Logger, what: string, work: () => Promise<readonly string[]>): Promise<void> {
  try {
    for (const file of await work()) log.info(`removed ${what}`, { file });
  } catch (e) {
    log.warn(`could not remove the ${what}; the new files are in place`, { error: describeError(e) });
  }
}

/**
 * Removes per-domain files of trust domains that are no longer in the agent's state: each
 * message is the complete state, so a domain that disappears must disappear on disk. Only
 * what the helper would have written goes: a regular file whose name is exactly the pattern
 * with a valid trust domain name in it (trustDomainInFileName); a symlink or a directory of
 * that name, or a name that merely shares the prefix and suffix, is somebody else's.
 */
export async function removeStaleFederatedFiles(certDir: string, pattern: string, current: readonly FileContent[]): Promise<string[]> {
  const keep = new Set(current.map((f) => basename(f.path)));
  const dir = resolveDir(certDir);
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (keep.has(name) || trustDomainInFileName(name, pattern) === undefined) continue;
    const path = join(dir, name);
    if (!(await lstat(path).catch(() => undefined))?.isFile()) continue;
    await unlink(path);
    removed.push(name);
  }
  return removed;
}
