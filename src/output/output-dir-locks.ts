/**
 * The locks of every directory a config's outputs are written to (cert-dir-lock.ts is the lock
 * of one), taken at start and kept with the writes as directories move.
 */
import { lstatSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Config } from '../config/config.js';
import { outputNames } from '../config/normalize.js';
import { Backoff } from '../backoff.js';
import { describeError, isHelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../timer.js';
import { ensureDir, resolveDir, type WriteGuard } from './atomic-write.js';
import { lockCertDir, type CertDirLock, type DirLock, type LockMode } from './cert-dir-lock.js';
import { outputPath } from './names.js';

/**
 * The lock of every directory the helper writes: cert_dir when an output lands in it, and the
 * directory of each output whose name is a path (Go's file model: `jwt_svid_file_name = "/etc/jwts/aws.jwt"`). Each
 * directory gets its own lock, so that two helpers whose configs share any output directory
 * cannot both start, whichever cert_dir each names. Taken in a fixed order (by real path) and
 * all or none: on a busy directory those already taken are released.
 */
type LockedConfig = Pick<Config, 'certDir' | 'x509' | 'jwtSvids' | 'jwtBundleFileName'>;

/** The locks, with the guard every write under them is to be made with: the locks follow the writes through it. */
export interface OutputDirLocks extends CertDirLock {
  /** Does nothing once released. */
  readonly guard: WriteGuard;
}

/** Disk conditions that clear on their own (space freed, a volume remounted writable). */
const CLEARS = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/**
 * With `retryUntil` (the daemon), a disk condition that clears on its own does not end the
 * helper: taking the lock is its first write, retried like the others (1 s → 30 s) until it
 * succeeds or the signal aborts. A busy directory, or one that cannot exist, still fails at once.
 */
export async function lockOutputDirs(config: LockedConfig, who: { mode: LockMode; config: string }, log: Logger, retryUntil?: AbortSignal): Promise<OutputDirLocks> {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
  for (;;) {
    try {
      return await lockEveryDir(config, who, log);
    } catch (e) {
      const errno = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (!retryUntil || !isHelperError(e, 'output') || !CLEARS.has(errno ?? '')) throw e;
      const retryInMs = backoff.next();
      log.error('cannot take the cert_dir lock; retrying', { error: describeError(e), retry_in_ms: retryInMs });
      await sleep(retryInMs, retryUntil);
    }
  }
}

async function lockEveryDir(config: LockedConfig, who: { mode: LockMode; config: string }, log: Logger): Promise<OutputDirLocks> {
  // Only directories written: with cert_dir unset and every name absolute (Go's file model), the
  // working directory is not one, and may well be read-only. Per-domain files go to cert_dir.
  const names = [...outputNames(config), ...(config.x509?.federatedBundleFileName ? [config.x509.federatedBundleFileName] : [])];
  const byRealPath = new Map<string, string>();
  const dirs = new Set(names.map((n) => dirname(outputPath(config.certDir, n))));
  for (const n of names) {
    const d = dirname(outputPath(config.certDir, n));
    await ensureDir(d, basename(n) === n ? undefined : `the directory of ${JSON.stringify(n)} (${d})`);
    byRealPath.set(resolveDir(d), d);
  }
  const locks = new Map<string, DirLock>();
  try {
    for (const real of [...byRealPath.keys()].sort()) locks.set(real, await lockCertDir(byRealPath.get(real)!, who, log));
  } catch (e) {
    locks.forEach((l) => l.release());
    throw e;
  }
  const path = locks.values().next().value!.path;
  // One at a time: two pipelines writing at once after a move would both take the new lock,
  // and the second would find the first's and call this helper busy.
  let following: Promise<void> = Promise.resolve();
  let released = false;
  return {
    path,
    guard: (real) => {
      if (released) return Promise.resolve();
      const done = following.then(() => follow(locks, real, [...dirs], who, log));
      following = done.catch(() => undefined);
      return done;
    },
    release: () => {
      released = true;
      locks.forEach((l) => l.release());
    },
  };
}

/**
 * Before a write into `real`: the lock there must be ours. A directory the outputs did not
 * resolve to at the start (a re-pointed cert_dir symlink), or whose lock vanished (cert_dir
 * removed and re-created), is locked now, as at the start: 'busy' when another helper holds it,
 * and the write is not made. Locks of directories no configured one resolves to any more are
 * released, so that a helper may start there. A directory that does not exist is left to the
 * write, which reports it.
 */
async function follow(locks: Map<string, DirLock>, real: string, configured: readonly string[], who: { mode: LockMode; config: string }, log: Logger): Promise<void> {
  if (locks.get(real)?.holds() || !lstatSync(real, { throwIfNoEntry: false })?.isDirectory()) return;
  const lock = await lockCertDir(real, who, log);
  locks.get(real)?.release();
  locks.set(real, lock);
  log.warn('took the cert_dir lock where the files now go: cert_dir was re-pointed or re-created since the start', { lock: lock.path });
  const now = new Set(configured.map(resolveDir));
  for (const [dir, l] of locks)
    if (!now.has(dir)) {
      l.release();
      locks.delete(dir);
    }
}
