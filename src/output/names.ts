import { createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, resolve } from 'node:path';

/**
 * The names the helper owns in cert_dir, and the rule every output name must pass, whether
 * it comes from the config or from a trust domain the agent sent. Everything starting with
 * `..` is the helper's: the atomic_dir internals (`..data`, `..<timestamp>.<6>` version
 * directories, as Kubernetes' volume writer names them; it also uses `..data_tmp`), the
 * cert_dir lock and the records of the per-trust-domain files written.
 */
export const DATA_LINK = '..data';
export const LOCK_NAME = '..spiffe-helper.lock';

/** The record of the per-trust-domain files written under `pattern` (cleanup.ts): one per pattern. */
export function writtenRecordName(pattern: string): string {
  return `..spiffe-helper.written.${createHash('sha256').update(pattern).digest('hex').slice(0, 16)}.json`;
}

/** 128 random bits per temporary: another user of the directory cannot predict or pre-plant it. */
const TEMP_HEX = 32;
// `s`: a file name may hold a newline (any byte but "/" and NUL), and so may its temporary's.
const TEMP_NAME = new RegExp(`^\\.(.+)\\.[0-9a-f]{${TEMP_HEX}}\\.tmp$`, 's');
/** NAME_MAX, less what the temporary adds around the name (`.` + `.<hex>.tmp`). */
export const MAX_NAME_BYTES = 255 - (1 + 1 + TEMP_HEX + 4);

/** `.<name>.<32 random hex>.tmp`: a sibling of `name` holding its content until the rename. */
export function tempName(name: string): string {
  return `.${name}.${randomBytes(TEMP_HEX / 2).toString('hex')}.tmp`;
}

/** The output name whose temporary `entry` is, or undefined when `entry` is not one. */
export function tempTarget(entry: string): string | undefined {
  return TEMP_NAME.exec(entry)?.[1];
}

/** Why `name` cannot be an output file in cert_dir, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.includes('/')) return 'contains "/" (a path, not a file name)';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name === '.' || name === '..') return `is "${name}", not a file name`;
  if (name.startsWith('..')) return `starts with "..", which is reserved for the helper's own entries (${DATA_LINK}, its version directories and temporaries, the lock ${LOCK_NAME})`;
  if (tempTarget(name) !== undefined) return 'has the shape of the helper\'s temporary files (".<name>.<hex>.tmp")';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes (its temporary must fit the 255-byte limit)`;
  return undefined;
}

/**
 * Where an output file named `name` (a plain name or a path, as in the Go helper) is written:
 * `cert_dir/name` as Go's path.Join makes it (an absolute name under a set cert_dir lands
 * inside cert_dir), and the name itself when cert_dir is not set (`.`), so that Go's
 * `cert_dir = ""` with `/etc/jwts/aws.jwt` writes that very file.
 */
export function outputPath(certDir: string, name: string): string {
  return certDir === '.' && isAbsolute(name) ? normalize(name) : join(certDir, name);
}

/** Why `name` cannot be an output path (cert_dir-relative or absolute), or undefined when it can. */
export function pathProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.endsWith('/')) return 'ends with "/" (a directory, not a file)';
  const base = basename(name);
  if (base === name) return nameProblem(name);
  // The OS sees the cleaned path (Go's path.Join cleans it): `x/../..data/f` goes through `..data`.
  const reserved = normalize(name)
    .split('/')
    .find((c) => c.startsWith('..') && c !== '..');
  const long = name.split('/').find((c) => Buffer.byteLength(c) > 255);
  if (long !== undefined && long !== base) return `has a component longer than 255 bytes ("${long.slice(0, 16)}…"), which no directory can have`;
  if (reserved !== undefined && reserved !== base)
    return `goes through "${reserved}", a name reserved for the helper's own entries (${DATA_LINK}, its version directories, the lock ${LOCK_NAME}) in every directory it writes`;
  return nameProblem(base)?.replace(/^/, `ends in "${base}", which `);
}

/**
 * The file `path` names, whatever the spelling: its directory's real path (symlinks resolved,
 * as far as the directory exists yet) and its own name, not followed (an output replaces a
 * symlink at its name, never writes through it). Two outputs with one identity are one file.
 */
export function fileIdentity(path: string): string {
  return join(existingRealPath(dirname(resolve(path))), basename(path));
}

function existingRealPath(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    const parent = dirname(dir);
    return parent === dir ? dir : join(existingRealPath(parent), basename(dir));
  }
}
