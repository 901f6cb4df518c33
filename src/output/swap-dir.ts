import { lstat, mkdtemp, readdir, readlink, rename, rm, stat, symlink, chmod } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fsyncDir, onDisk, outputError, refuseUnwritableTargets, resolveDir, rethrowAs, writeDir, writeDurable, type FileContent, type WriteGuard } from './atomic-write.js';
import { DATA_LINK, tempName } from './names.js';
import { ownerFor } from './ownership.js';
import { discardTemp, sweepStaleTemps } from './stale-temps.js';

/**
 * The layout Kubernetes' volume writer uses and Envoy's `watched_directory` expects:
 *
 *   cert_dir/..2026_11_23_03_06_31.ab12cd/{svid.pem,svid_key.pem,bundle.pem}   a version
 *   cert_dir/..data -> ..2026_11_23_03_06_31.ab12cd                            one rename switches all
 *   cert_dir/svid.pem -> ..data/svid.pem                                        stable names
 *
 * A reader that resolves `..data` once (or watches it) never pairs a new certificate with an
 * old key. The previous version is kept until the next swap, so a reader that resolved it a
 * moment ago can still finish.
 *
 * cert_dir is resolved once per write (see writeFilesAtomic): every step happens in one directory.
 */
/**
 * Resolves once the new version is in place and durable, with the clean-up that may follow
 * (removing versions older than the previous one), for the caller to run and report: see
 * cleanup.ts.
 */
export async function writeFilesSwapDir(configuredDir: string, files: readonly FileContent[], guard?: WriteGuard): Promise<{ removeOldVersions(): Promise<string[]> }> {
  const certDir = await writeDir(configuredDir, guard);
  // The stable names are switched after `..data`: one that cannot be must stop the write before.
  refuseUnwritableTargets(
    files.map((f) => ({ ...f, path: join(certDir, basename(f.path)) })),
    files,
  );
  let version: string | undefined;
  // The version directory is inside cert_dir: one file system, looked up once.
  const disk = onDisk(certDir);
  const previous = await linkTarget(join(certDir, DATA_LINK));
  // Random like every temporary: a fixed `..data_tmp` could be planted (as a directory) to fail every swap.
  const tmpLink = join(certDir, tempName(DATA_LINK));
  try {
    version = await mkdtemp(join(certDir, `..${stamp(new Date())}.`));
    // 0755 whatever the umask, but keeping the setgid bit inherited from cert_dir (a pod's
    // fsGroup volume): without it the files would get the helper's group, not the volume's.
    await chmod(version, 0o755 | ((await stat(version)).mode & S_ISGID));
    // The previous version's file (through `..data`), not the stable name, which is our symlink.
    const owned = files.map((f) => ({ ...f, path: join(version!, basename(f.path)), owner: ownerFor(join(certDir, DATA_LINK, basename(f.path))) }));
    await writeDurable(owned, () => disk);
    if (disk) await fsyncDir(version);
    await symlink(basename(version), tmpLink);
    await rename(tmpLink, join(certDir, DATA_LINK));
  } catch (e) {
    // Best effort: the error to report is the one that failed the write.
    if (version) await rm(version, { recursive: true, force: true }).catch(() => undefined);
    discardTemp(tmpLink);
    throw outputError(e, files);
  }
  // `..data` has switched: readers that go through it see the new set from here on.
  await linkNames(
    certDir,
    files.map((f) => basename(f.path)),
  ).catch(rethrowAs(files, 'partial'));
  if (disk) await fsyncDir(certDir).catch(rethrowAs(files, 'not-durable'));
  const keep = [basename(version), previous];
  return { removeOldVersions: () => removeOldVersions(certDir, keep) };
}

/**
 * Points each stable name at `..data/<name>`; drops links of names no longer in the set. What
 * the helper created is recognised exactly: a symlink named N whose target is `..data/N`.
 */
async function linkNames(certDir: string, names: readonly string[]): Promise<void> {
  const wanted = new Set(names);
  await sweepStaleTemps(certDir, [...names, DATA_LINK]);
  for (const name of names) {
    const path = join(certDir, name);
    const target = `${DATA_LINK}/${name}`;
    if ((await linkTarget(path)) === target) continue;
    const tmp = join(certDir, tempName(name));
    try {
      await symlink(target, tmp);
      await rename(tmp, path); // replaces a plain file left by the other layout atomically
    } catch (e) {
      discardTemp(tmp);
      throw e;
    }
  }
  await removeStableLinks(certDir, wanted);
}

/** Removes the links the helper made for stable names (`N -> ..data/N`) but those in `keep`; returns their names. */
async function removeStableLinks(certDir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(certDir)) {
    if (keep.has(entry) || entry.startsWith('..')) continue;
    if ((await linkTarget(join(certDir, entry))) !== `${DATA_LINK}/${entry}`) continue;
    await rm(join(certDir, entry), { force: true });
    removed.push(entry);
  }
  return removed;
}

const S_ISGID = 0o2000; // not in fs.constants

/** `mkdtemp`'s six characters after the stamp: only directories of exactly this shape are ours. */
const VERSION_DIR = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[A-Za-z0-9]{6}$/;

/**
 * What the atomic_dir layout leaves when the config switches to `files`: `..data`, the version
 * directories, each holding a private key nothing reads any more, and links of names no longer
 * written. Removed only by their exact shape: links `N -> ..data/N`, a `..data` symlink to a
 * version directory, and version directories.
 */
export async function removeSwapDirLeftovers(configuredDir: string): Promise<string[]> {
  const certDir = resolveDir(configuredDir);
  const link = join(certDir, DATA_LINK);
  const target = await linkTarget(link);
  const removed = target !== undefined && VERSION_DIR.test(target) ? [DATA_LINK] : [];
  if (removed.length > 0) await rm(link);
  return [...(await removeStableLinks(certDir, new Set())), ...removed, ...(await removeOldVersions(certDir, []))];
}

async function removeOldVersions(certDir: string, keep: readonly (string | undefined)[]): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(certDir)) {
    if (keep.includes(entry) || !VERSION_DIR.test(entry)) continue;
    const path = join(certDir, entry);
    if (!(await lstat(path)).isDirectory()) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}

async function linkTarget(path: string): Promise<string | undefined> {
  try {
    return (await lstat(path)).isSymbolicLink() ? await readlink(path) : undefined;
  } catch {
    return undefined;
  }
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}
