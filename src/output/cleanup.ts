import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { trustDomainInFileName } from '../config/trust-domain-pattern.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { resolveDir, writeFilesAtomic, type FileContent, type WriteGuard } from './atomic-write.js';
import { writtenRecordName } from './names.js';

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
 * message is the complete state, so a domain that disappears must disappear on disk. Only what
 * the helper can prove it wrote goes: a regular file it recorded writing under this pattern
 * (`..spiffe-helper.written.<pattern hash>.json`, kept in cert_dir so that a domain gone while
 * the helper was stopped is removed by the next run), whose content is still what it wrote. A
 * user's file that merely has such a name, or one of ours changed since, is somebody else's.
 * Files written before the record existed (older versions) are not proven, and stay.
 */
export async function removeStaleFederatedFiles(certDir: string, pattern: string, current: readonly FileContent[], guard?: WriteGuard): Promise<string[]> {
  const dir = resolveDir(certDir);
  const recordPath = join(dir, writtenRecordName(pattern));
  const before = await readRecord(recordPath);
  const record = new Map<string, string>();
  for (const f of current) if (trustDomainInFileName(basename(f.path), pattern) !== undefined) record.set(basename(f.path), digest(f.data));
  const removed: string[] = [];
  try {
    for (const [name, hash] of before) {
      if (record.has(name) || trustDomainInFileName(name, pattern) === undefined) continue;
      const path = join(dir, name);
      const content = await regularFileContent(path);
      if (content === undefined || digest(content) !== hash) continue;
      record.set(name, hash); // until it is gone: a removal that fails is tried again next time
      await unlink(path);
      record.delete(name);
      removed.push(name);
    }
  } finally {
    const text = JSON.stringify(Object.fromEntries([...record].sort()));
    if (text !== JSON.stringify(Object.fromEntries([...before].sort()))) await writeFilesAtomic([{ path: recordPath, data: text, mode: 0o600 }], guard);
  }
  return removed;
}

/** The record's names and content hashes; empty when there is none (or it is not one). */
async function readRecord(path: string): Promise<Map<string, string>> {
  const content = await regularFileContent(path);
  if (content === undefined) return new Map();
  try {
    const parsed: unknown = JSON.parse(content.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return new Map();
    return new Map(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return new Map();
  }
}

/**
 * `path`'s content when it is a regular file, else undefined: not followed, and opened without
 * blocking, since anyone who may write cert_dir could plant a FIFO there to hang the helper.
 */
async function regularFileContent(path: string): Promise<Buffer | undefined> {
  let file: FileHandle;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    return (await file.stat()).isFile() ? await file.readFile() : undefined;
  } finally {
    await file.close();
  }
}

function digest(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
