import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDir, makeDirSync, resolveDir, whyFailed } from './atomic-write.js';
import { LOCK_NAME, tempName, tempTarget } from './names.js';

/**
 * One writer per directory the outputs are written to (cert_dir and those of names that are
 * paths; output-dir-locks.ts takes one lock per directory). Two helpers on one directory would
 * interleave their `..data` swaps and clean up each other's versions, leaving every name dangling.
 *
 * Node has no flock(2), so the lock is built from what the file system makes atomic:
 *
 * - The lock is a directory, `cert_dir/..spiffe-helper.lock/`, holding one owner file whose
 *   name is random per acquisition and whose content says who holds it (pid, its start time
 *   from /proc/<pid>/stat, the boot id, the pid namespace, the host).
 * - Acquiring renames a fully written candidate directory onto that path. rename(2) of a
 *   directory succeeds only when the target is absent or empty, so of any number of helpers
 *   starting at once exactly one wins, and the lock never exists half-written.
 * - A lock left by a helper that is gone (SIGKILL, crash, reboot) is taken over by unlinking
 *   that one owner file by its unique name, then renaming as above. Two helpers that both
 *   judged it stale cannot remove each other's: the loser's unlink finds nothing and its
 *   rename finds the winner's owner in place.
 * - Whether the owner is gone: on the same boot and in the same pid namespace, exactly, by its
 *   pid and start time (a reused pid has another start time). Otherwise (another container's
 *   pid namespace, another host sharing the volume) the pid means nothing here: the owner
 *   renews the file's mtime every RENEW_MS and counts as gone after LEASE_MS without renewal.
 *
 * Only helpers that write cert_dir take it (daemon and --once); `inspect` reads without it.
 */
const RENEW_MS = 5_000;
const LEASE_MS = 20_000;
const ATTEMPTS = 5;

export type LockMode = 'daemon' | 'once';

interface Owner {
  pid: number;
  start?: string;
  boot?: string;
  pidns?: string;
  host: string;
  mode: LockMode;
  config: string;
  since: string;
}

export interface CertDirLock {
  /** Where the lock lives (cert_dir resolved once, at acquisition). */
  readonly path: string;
  release(): void;
}

/** A lock of one directory, which can tell whether it is still in place. */
export interface DirLock extends CertDirLock {
  /** False once its owner file is gone (the lock, or cert_dir itself, removed under us). */
  holds(): boolean;
}

export async function lockCertDir(certDir: string, who: { mode: LockMode; config: string }, log: Logger): Promise<DirLock> {
  await ensureDir(certDir);
  const dir = resolveDir(certDir);
  const lockDir = join(dir, LOCK_NAME);
  const ownerName = `owner.${randomBytes(16).toString('hex')}`;
  const candidate = join(dir, tempName(LOCK_NAME));
  const me: Owner = { pid: process.pid, ...identity(process.pid), host: hostname(), ...who, since: new Date().toISOString() };
  try {
    removeAbandonedCandidates(dir);
    makeDirSync(candidate, 0o755);
    writeOwner(join(candidate, ownerName), me);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (tryRename(candidate, lockDir)) return held(lockDir, ownerName, log);
      takeOverIfStale(lockDir, dir, log);
    }
  } catch (e) {
    throw e instanceof HelperError ? e : new HelperError('output', `cannot take the cert_dir lock in ${dir}: ${whyFailed(e as NodeJS.ErrnoException)}; the previous files are unchanged`, { cause: e });
  } finally {
    rmSync(candidate, { recursive: true, force: true });
  }
  throw new HelperError('busy', `cert_dir ${dir}: other helpers keep taking the lock ${lockDir}; only one helper may write a cert_dir`, { reason: 'busy' });
}

/** A candidate lives for microseconds; one older than a lease was left by a helper killed mid-acquisition. */
function removeAbandonedCandidates(dir: string): void {
  for (const entry of readdirSync(dir)) {
    if (tempTarget(entry) !== LOCK_NAME) continue;
    const path = join(dir, entry);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory() && Date.now() - st.mtimeMs > LEASE_MS) rmSync(path, { recursive: true, force: true });
  }
}

function writeOwner(path: string, owner: Owner): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, JSON.stringify(owner) + '\n');
  } finally {
    closeSync(fd);
  }
}

/** False when another helper's lock is in place (the target directory is not empty). */
function tryRename(candidate: string, lockDir: string): boolean {
  try {
    renameSync(candidate, lockDir);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    if (code === 'ENOTDIR') throw new HelperError('output', `${lockDir} is in the way of the cert_dir lock and is not a directory; remove it`);
    throw e;
  }
}

/** Throws 'busy' naming the owner when it is alive; removes its owner file when it is gone. */
function takeOverIfStale(lockDir: string, dir: string, log: Logger): void {
  let entries: string[];
  try {
    entries = readdirSync(lockDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // released meanwhile: try again
    throw e;
  }
  for (const entry of entries) {
    if (!entry.startsWith('owner.')) throw new HelperError('output', `${lockDir} holds "${entry}", which the helper never puts there; remove the directory if no helper runs on ${dir}`);
    const path = join(lockDir, entry);
    const owner = readOwner(path);
    if (owner === 'gone') continue;
    const busy = liveOwner(owner, path);
    if (busy)
      throw new HelperError('busy', `cert_dir ${dir} is in use by another spiffe-helper: ${busy}; only one helper may write a cert_dir (stop it, or give this one another cert_dir)`, {
        reason: 'busy',
      });
    try {
      unlinkSync(path);
      log.warn('took over the cert_dir lock of a helper that is gone', { lock: lockDir, pid: owner?.pid, host: owner?.host, since: owner?.since });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // another starter took it over first
    }
  }
}

/**
 * undefined: unreadable as an owner (judged by its age alone); 'gone': removed meanwhile. Read
 * only as a regular file, not followed and opened without blocking: a FIFO planted in the lock
 * directory would otherwise hang the start-up for good.
 */
function readOwner(path: string): Owner | undefined | 'gone' {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const o = JSON.parse(readFileSync(fd, 'utf8')) as Owner;
    return typeof o?.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** A description of the owner when it still runs, or undefined when it is gone. */
function liveOwner(owner: Owner | undefined, path: string): string | undefined {
  const here = identity(process.pid);
  const checkable = owner?.start !== undefined && here.boot !== undefined && owner.boot === here.boot && here.pidns !== undefined && owner.pidns === here.pidns;
  if (checkable) {
    if (!stillRuns(owner)) return undefined;
    const cmd = commandLine(owner.pid);
    return `pid ${owner.pid}${cmd ? ` (${cmd})` : ''}, ${owner.mode} with config ${owner.config}, since ${owner.since}`;
  }
  let ageMs: number;
  try {
    ageMs = Date.now() - lstatSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  if (ageMs > LEASE_MS) return undefined;
  const who = owner ? `pid ${owner.pid} on host ${owner.host}, ${owner.mode} with config ${owner.config}, since ${owner.since}` : 'an owner file that cannot be read';
  return `${who}; it runs in another pid namespace or on another host, so it is judged by its lock renewals: the last was ${Math.round(ageMs / 1000)} s ago, and the lock is taken over after ${LEASE_MS / 1000} s without one`;
}

/**
 * The owner's process, by pid and start time. When its /proc entry cannot be read (another
 * user's process under hidepid) only kill(pid, 0) can tell: EPERM means it exists.
 */
function stillRuns(owner: Owner): boolean {
  const start = startTime(owner.pid);
  if (start !== undefined) return start === owner.start;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What identifies a process beyond its pid: its start time, this boot, its pid namespace. */
function identity(pid: number): { start?: string; boot?: string; pidns?: string } {
  return { start: startTime(pid), boot: readOr('/proc/sys/kernel/random/boot_id'), pidns: linkOr(`/proc/${pid}/ns/pid`) };
}

/** Field 22 of /proc/<pid>/stat, counted after the command name, which may hold spaces and ')'. */
function startTime(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function commandLine(pid: number): string | undefined {
  const raw = readOr(`/proc/${pid}/cmdline`);
  return raw?.replace(/\0+$/, '').replace(/\0/g, ' ').slice(0, 200) || undefined;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function linkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function held(lockDir: string, ownerName: string, log: Logger): DirLock {
  const ownerPath = join(lockDir, ownerName);
  let lost = false;
  // Renewals tell helpers that cannot check our pid that we are alive; finding the owner file
  // gone means someone removed the lock under us.
  const renew = setInterval(() => {
    const now = new Date();
    try {
      utimesSync(ownerPath, now, now);
    } catch (e) {
      // A read-only or full cert_dir fails the renewal too; only a missing owner file is news.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || lost) return;
      log.error('the cert_dir lock was removed while this helper holds it; it is taken again before the next write, which fails if another helper took it meanwhile', { lock: lockDir });
      lost = true;
    }
  }, RENEW_MS);
  renew.unref();
  log.debug('cert_dir lock taken', { lock: lockDir });
  return {
    path: lockDir,
    holds() {
      try {
        lstatSync(ownerPath);
        return true;
      } catch (e) {
        // Only a missing file is news: a directory we may not search (yet) is not a lost lock.
        return !['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');
      }
    },
    release() {
      clearInterval(renew);
      try {
        unlinkSync(ownerPath);
        rmdirSync(lockDir);
      } catch {
        // gone already, or another helper's owner is in it now
      }
    },
  };
}
