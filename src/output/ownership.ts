import { fchownSync, lstatSync, readFileSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HelperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { tempTarget } from './names.js';

/**
 * Who owns the files the helper writes. Every write makes a new file (a temporary renamed over
 * the old one), which would otherwise belong to the helper's user: an operator's
 * `chown postgres svid_key.pem` would be undone at the first rotation. So a new version takes
 * the owner and group of the file it replaces, unless `file_owner` / `file_group` say whom;
 * a file created for the first time gets those, else the helper's own (and the directory's
 * group when it is setgid, as a pod's fsGroup volume is).
 *
 * One policy per process: set once at start-up, before the first write.
 */
export interface FileOwnership {
  uid?: number;
  gid?: number;
}

/** `-1` leaves that id as the file was created (fchown's "unchanged"). */
export interface Owner {
  uid: number;
  gid: number;
}

let configured: FileOwnership = {};
let log: Logger = silentLogger;
let warned = false;

export function setFileOwnership(owner: FileOwnership, logger: Logger): void {
  configured = owner;
  log = logger;
  warned = false;
}

/**
 * The owner a new version of `previous` must get, undefined when nothing is to be set. Only a
 * regular file counts, not followed: a symlink planted under an output's name must not decide
 * who may read the key.
 */
export function ownerFor(previous: string): Owner | undefined {
  const kept = regularFile(previous);
  const uid = configured.uid ?? kept?.uid;
  const gid = configured.gid ?? kept?.gid;
  if (uid === undefined && gid === undefined) return undefined;
  return { uid: uid ?? -1, gid: gid ?? -1 };
}

function regularFile(path: string): Stats | undefined {
  try {
    const st = lstatSync(path);
    return st.isFile() ? st : undefined;
  } catch {
    return undefined; // none yet, or no directory there: the write itself reports that
  }
}

/**
 * Gives the open new file `fd` (the temporary at `tempPath`) its owner. Without the right to (not root, no CAP_CHOWN): a
 * configured owner is an error (the files would not be what the config says); an owner kept
 * from the previous file is said once in the log and the file stays the helper's.
 */
export function giveOwner(fd: number, owner: Owner | undefined, tempPath: string): void {
  if (!owner) return;
  const path = join(dirname(tempPath), tempTarget(basename(tempPath)) ?? basename(tempPath));
  try {
    fchownSync(fd, owner.uid, owner.gid);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EACCES') throw e;
    if (configured.uid !== undefined || configured.gid !== undefined) {
      throw new HelperError('output', `cannot give ${path} the owner set by file_owner/file_group (${owner.uid}:${owner.gid}): permission denied (the helper needs to run as root or with CAP_CHOWN)`, {
        cause: e,
      });
    }
    if (warned) return;
    warned = true;
    log.warn("cannot keep the owner of a rewritten file: the helper may not change file owners (run it as root or with CAP_CHOWN, or as the owner); rewritten files belong to the helper's user", {
      file: path,
      owner: `${owner.uid}:${owner.gid}`,
      helper: `${process.getuid?.()}:${process.getgid?.()}`,
    });
  }
}

/**
 * A user or group as `file_owner` / `file_group` give it: a numeric id, or a name looked up in
 * /etc/passwd or /etc/group (Node has no getpwnam; a container's users are in those files).
 */
export function resolveId(kind: 'user' | 'group', value: string | number, files = { user: '/etc/passwd', group: '/etc/group' }): number {
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    const id = Number(value);
    if (!Number.isSafeInteger(id) || id < 0 || id > 0xfffffffe) throw new Error(`${value} is not a ${kind} id`);
    return id;
  }
  let text: string;
  try {
    text = readFileSync(files[kind], 'utf8');
  } catch (e) {
    throw new Error(`cannot look up ${kind} "${value}": ${files[kind]}: ${(e as Error).message}; give the numeric id instead`);
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name === value && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  throw new Error(`no ${kind} named "${value}" in ${files[kind]}; give the numeric id instead`);
}
