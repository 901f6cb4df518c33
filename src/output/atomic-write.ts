import { chmodSync, closeSync, constants, fchmodSync, fsync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { HelperError } from '../errors.js';
import { tempName, tempTarget } from './names.js';
import { giveOwner, ownerFor, type Owner } from './ownership.js';
import { discardTemp, sweepStaleTemps } from './stale-temps.js';

/**
 * Replaces files so that a reader sees either the old or the new content, never an empty
 * or partial file: each file goes to a temporary sibling created with O_EXCL and its final
 * mode (so a key is never readable by others, whatever the umask), is fsynced, and only
 * when every file of the set is durable are they renamed over their targets, back to back,
 * and the directory fsynced. On failure the temporaries are removed and the old files stay.
 *
 * The calls that only touch the page cache (open, fchmod, write, close, rename) are made
 * synchronously: each takes microseconds, while a trip through libuv's thread pool costs
 * ~50-100 µs of latency, and a rotation made a dozen of them in a row. Only the fsyncs,
 * which wait for the disk, go to the pool, side by side (docs/BENCHMARKS.md). On a memory
 * file system (tmpfs or ramfs, e.g. a Kubernetes emptyDir with medium Memory) there is no
 * disk to wait for and the fsyncs are skipped: the order of the steps is what keeps readers
 * safe there.
 *
 * Each new file gets the owner of the one it replaces, or the configured one (ownership.ts).
 *
 * Temporaries have unpredictable names (names.ts) and are created with O_EXCL|O_NOFOLLOW. The
 * directory is resolved once per write, so a cert_dir symlink re-pointed mid-write cannot send
 * the rename or the clean-up of a temporary to another directory than the one it was made in.
 */
export interface FileContent {
  path: string;
  data: string | Uint8Array;
  mode: number;
}

const fsyncFd = promisify(fsync);

export async function writeFilesAtomic(files: readonly FileContent[], guard?: WriteGuard): Promise<void> {
  const dirs = new Map<string, string>();
  for (const d of new Set(files.map((f) => dirname(f.path)))) dirs.set(d, await writeDir(d, guard));
  const targets = files.map((f) => ({ ...f, path: join(dirs.get(dirname(f.path))!, basename(f.path)) }));
  refuseUnwritableTargets(targets, files);
  for (const dir of new Set(dirs.values()))
    await sweepStaleTemps(
      dir,
      targets.filter((f) => dirname(f.path) === dir).map((f) => basename(f.path)),
    );
  const temps = targets.map((f) => ({ ...f, path: join(dirname(f.path), tempName(basename(f.path))), target: f.path, owner: ownerFor(f.path) }));
  const diskDirs = [...new Set(dirs.values())].filter(onDisk);
  let renamed = 0;
  try {
    await writeDurable(temps, (dir) => diskDirs.includes(dir));
    for (const t of temps) {
      renameSync(t.path, t.target);
      renamed++;
    }
  } catch (e) {
    for (const t of temps) discardTemp(t.path);
    // A rename that fails after others succeeded (a directory in the way) leaves a mixed set.
    throw outputError(e, files, renamed === 0 ? 'unchanged' : 'partial');
  }
  for (const dir of diskDirs) await fsyncDir(dir).catch(rethrowAs(files, 'not-durable'));
}

/**
 * Refuses, before anything is written, a set that could only end mixed: two of its files that
 * are one file (reached through a symlinked directory: the last rename would win), or a
 * directory where a file goes (every rename before it would succeed, then it would fail).
 * `targets` are `files` with their directories resolved.
 */
export function refuseUnwritableTargets(targets: readonly FileContent[], files: readonly FileContent[]): void {
  const seen = new Map<string, string>();
  let mounts: Set<string> | undefined;
  targets.forEach((t, i) => {
    const first = seen.get(t.path);
    if (first !== undefined) throw new HelperError('output', `cannot write ${first} and ${files[i]!.path}: they are one file (${t.path}); the previous files are unchanged`);
    seen.set(t.path, files[i]!.path);
    const st = lstatSync(t.path, { throwIfNoEntry: false });
    if (st?.isDirectory()) throw outputError(Object.assign(new Error('a directory is in the way'), { code: 'EISDIR', path: t.path }), files);
    // A file bind-mounted there (`docker run -v host.pem:/certs/key.pem`): its rename would fail with EBUSY.
    if (st && (mounts ??= mountPoints()).has(t.path)) throw outputError(Object.assign(new Error('a file is mounted there'), { code: 'EBUSY', path: t.path }), files);
  });
}

/** The mount points this process sees; empty when /proc is not mounted (the rename then reports EBUSY itself). */
function mountPoints(): Set<string> {
  try {
    // Field 5 is the mount point, with space, tab, newline and backslash written as octal escapes.
    const points = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4]);
    return new Set(points.filter((p) => p !== undefined).map((p) => p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))));
  } catch {
    return new Set();
  }
}

const MEMORY_FS = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);

/** Whether fsync can make anything in `dir` survive a reboot: not on tmpfs or ramfs. */
export function onDisk(dir: string): boolean {
  try {
    return !MEMORY_FS.has(Number(statfsSync(dir).type));
  } catch {
    return true; // unknown: fsync, the safe side
  }
}

/** The directory's real path, resolved once for the whole write; as given when it cannot be. */
export function resolveDir(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    return dir; // the write itself reports the problem, naming the directory as configured
  }
}

/**
 * What must hold before a directory is written, given by the cert_dir lock (output-dir-locks.ts)
 * to the writers: the lock is taken in the directory cert_dir resolved to at the start, but a
 * symlink re-pointed, or cert_dir removed and re-created, moves the writes elsewhere, and the
 * lock must move with them, or a second helper there would be let in. It runs before every write
 * with the directory the write will use, and throws to stop it. A write without one (no lock
 * taken: tools, tests) is not checked.
 */
export type WriteGuard = (realDir: string) => Promise<void>;

/** The directory a write goes to, resolved once, and allowed by the guard. */
export async function writeDir(dir: string, guard?: WriteGuard): Promise<string> {
  const real = resolveDir(dir);
  await guard?.(real);
  return real;
}

/**
 * Creates each file (which must not exist) with exactly its mode and content, then fsyncs
 * side by side those in directories `onDiskDir` says are on disk (see onDisk). Files already
 * created stay behind on failure: the caller removes them.
 */
export async function writeDurable(files: readonly (FileContent & { owner?: Owner })[], onDiskDir: (dir: string) => boolean): Promise<void> {
  const fds: number[] = [];
  let failed = false;
  try {
    for (const f of files) {
      const fd = openSync(f.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, f.mode & 0o600);
      fds.push(fd);
      giveOwner(fd, f.owner, f.path);
      // Created with at most owner access; the final mode is set explicitly because the umask
      // would otherwise decide it (and after the chown, which may clear mode bits).
      fchmodSync(fd, f.mode);
      writeFileSync(fd, f.data);
    }
    // Every fsync settles before the descriptors close; the error is the first file's in order.
    const synced = await Promise.allSettled(fds.filter((_, i) => onDiskDir(dirname(files[i]!.path))).map((fd) => fsyncFd(fd)));
    const rejected = synced.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    closeAll(fds, failed);
  }
}

/** Closes every descriptor; the first close error is thrown unless an earlier error is on its way. */
function closeAll(fds: readonly number[], failed: boolean): void {
  let closeError: unknown;
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch (e) {
      closeError ??= e;
    }
  }
  if (closeError !== undefined && !failed) throw closeError;
}

export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates an output directory if needed, with its missing parents (0755: readers of the
 * certificates must traverse it). `what` names it in the error: cert_dir, or the directory of an
 * output whose name is a path.
 */
export async function ensureDir(dir: string, what = `cert_dir ${dir}`): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); !isDirectory(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  try {
    // One level at a time: each must be writable by the helper before the next goes in it.
    for (const d of missing) makeDirSync(d, 0o755);
  } catch (e) {
    throw new HelperError('output', `${what}: cannot create it: ${(e as Error).message}`, { cause: e });
  }
}

/** Whether `path` leads to a directory (symlinks followed: a dangling one leads nowhere). */
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * mkdir with `mode` less the umask, as usual, but never less than the owner's rwx: a umask
 * such as 0277 would otherwise make a directory the helper cannot put its own files in. One
 * that exists already (another starter was first) is left as it is.
 */
export function makeDirSync(dir: string, mode: number): void {
  try {
    mkdirSync(dir, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && isDirectory(dir)) return;
    throw e;
  }
  const { mode: made } = lstatSync(dir);
  if ((made & 0o700) !== 0o700) chmodSync(dir, (made & 0o7777) | 0o700);
}

/** What the files are left as when a write fails. */
export type LeftAs = 'unchanged' | 'partial' | 'not-durable';
const LEFT_AS: Record<LeftAs, string> = {
  unchanged: 'the previous files are unchanged',
  partial: 'some files were replaced and others not: the set on disk is mixed until the next update',
  'not-durable': 'the new files are in place but not yet durable: after a crash the previous ones may be back',
};

/** For `.catch`: the error as outputError words it. */
export function rethrowAs(files: readonly FileContent[], leftAs: LeftAs): (e: unknown) => never {
  return (e) => {
    throw outputError(e, files, leftAs);
  };
}

export function outputError(e: unknown, files: readonly FileContent[], leftAs: LeftAs = 'unchanged'): HelperError {
  if (e instanceof HelperError) return e;
  const err = e as NodeJS.ErrnoException;
  const where = err.path ? (tempTarget(basename(err.path)) ?? basename(err.path)) : files.map((f) => basename(f.path)).join(', ');
  // The directory of the file that failed: outputs may be in several (file names that are paths).
  const dir = err.path ? dirname(err.path) : files[0] ? dirname(files[0].path) : '';
  return new HelperError('output', `cannot write ${where} in ${dir}: ${whyFailed(err)}; ${LEFT_AS[leftAs]}`, { cause: e });
}

/** A file system error in a few words a person can act on. */
export function whyFailed(err: NodeJS.ErrnoException): string {
  return err.code === 'ENOSPC'
    ? 'no space left on device'
    : err.code === 'EACCES' || err.code === 'EPERM'
      ? 'permission denied'
      : err.code === 'EROFS'
        ? 'read-only file system'
        : err.code === 'ENOENT'
          ? 'directory does not exist'
          : err.code === 'EISDIR'
            ? 'a directory is in the way'
            : err.code === 'EBUSY'
              ? 'a file is mounted there (a bind mount), which no rename can replace: mount its directory instead'
              : err.message;
}
