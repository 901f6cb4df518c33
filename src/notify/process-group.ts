import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/**
 * Variables that mark every process a started program leads to. A process group is not
 * enough: a grandchild that calls setsid, or a daemon that double-forks, leaves the group (and
 * is reparented to init), but it keeps the environment it was started with, as
 * /proc/<pid>/environ shows. Jenkins finds a build's escaped processes the same way. The name
 * itself is unique per start, so that a helper wrapped by another helper adds its mark to the
 * outer one's instead of replacing it.
 */
export const MARK_PREFIX = 'SPIFFE_HELPER_PROCESS_TREE_';

/** The `NAME=value` entry for a new program's environment. */
export function newMark(): string {
  return `${MARK_PREFIX}${randomBytes(16).toString('hex')}=1`;
}

/**
 * What one started program leads to: its process group (`spawn` with `detached`: a new session
 * whose id is the leader's pid), which signalling reaches at once, plus the processes that left
 * the group but still carry the program's mark in their environment. A process that both left
 * the group and cleared or replaced its environment cannot be found (README "No orphans").
 */
export class ProcessGroup {
  /** Set once the group was seen empty: its id may then be reused by an unrelated group. */
  private gone = false;

  constructor(
    readonly pgid: number,
    private readonly mark: string,
  ) {}

  /** Sends `sig` to every member of the group (0: only checks that one exists); false when none is left. */
  signal(sig: NodeJS.Signals | 0): boolean {
    if (this.gone) return false;
    try {
      process.kill(-this.pgid, sig);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      this.gone = true;
      return false;
    }
  }

  /**
   * `sig` to the group, then to each marked process outside it; throws the group's EPERM after.
   * In this order a process that leaves the group (setsid) meanwhile is reached either way: still
   * in the group when it is signalled, or out of it when /proc is read. The other order missed one
   * that left between the read and the group's signal.
   */
  async signalAll(sig: NodeJS.Signals): Promise<void> {
    let refused: unknown;
    try {
      this.signal(sig);
    } catch (e) {
      refused = e;
    }
    signalEach((await this.scan())?.escaped ?? [], sig);
    if (refused !== undefined) throw refused;
  }

  /** The same, without yielding: for the helper's exit hook, where nothing asynchronous runs. */
  signalAllSync(sig: NodeJS.Signals): void {
    try {
      this.signal(sig);
    } catch {
      // EPERM for some member: the others got it.
    }
    signalEach(this.scanSync().escaped, sig);
  }

  /**
   * Pids of the processes still running, in the group or marked. Zombies do not count: they
   * are dead, and when the helper is PID 1 nobody reaps the orphaned ones (Node reaps only its
   * own children).
   */
  async members(): Promise<number[]> {
    const found = await this.scan();
    if (found === undefined) return this.exists() ? [this.pgid] : [];
    if (found.inGroup.length === 0) this.gone = true;
    return [...found.inGroup, ...found.escaped];
  }

  /** A member that the helper may not signal (a setuid program) still exists: EPERM. */
  private exists(): boolean {
    try {
      return this.signal(0);
    } catch {
      return true;
    }
  }

  /** Live processes from /proc; undefined where there is no /proc (then only the group is known). */
  private async scan(): Promise<Found | undefined> {
    let entries: string[];
    try {
      entries = await readdir('/proc');
    } catch {
      return undefined;
    }
    const found: Found = { inGroup: [], escaped: [] };
    await Promise.all(
      entries.filter(isPid).map(async (pid) => {
        const where = this.where(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''));
        if (where === 'group') found.inGroup.push(Number(pid));
        else if (where === 'other' && this.marks(await readFile(`/proc/${pid}/environ`).catch(() => undefined))) found.escaped.push(Number(pid));
      }),
    );
    return found;
  }

  private scanSync(): Found {
    const read = (path: string): Buffer | undefined => {
      try {
        return readFileSync(path);
      } catch {
        return undefined;
      }
    };
    const found: Found = { inGroup: [], escaped: [] };
    let entries: string[] = [];
    try {
      entries = readdirSync('/proc');
    } catch {
      // No /proc: only the group can be reached.
    }
    for (const pid of entries.filter(isPid)) {
      const where = this.where(read(`/proc/${pid}/stat`)?.toString() ?? '');
      if (where === 'group') found.inGroup.push(Number(pid));
      else if (where === 'other' && this.marks(read(`/proc/${pid}/environ`))) found.escaped.push(Number(pid));
    }
    return found;
  }

  /** Where a live process is, from its stat line; undefined for a zombie or a process gone. */
  private where(stat: string): 'group' | 'other' | undefined {
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === undefined || state === '' || state === 'Z' || state === 'X') return undefined;
    return Number(pgrp) === this.pgid ? 'group' : 'other';
  }

  /** `environ` is NUL-separated `NAME=value` entries; one of them the mark. */
  private marks(environ: Buffer | undefined): boolean {
    if (environ === undefined) return false;
    const needle = Buffer.from(`${this.mark}\0`);
    for (let at = environ.indexOf(needle); at !== -1; at = environ.indexOf(needle, at + 1)) {
      if (at === 0 || environ[at - 1] === 0) return true;
    }
    return false;
  }
}

interface Found {
  inGroup: number[];
  escaped: number[];
}

const isPid = (e: string): boolean => /^\d+$/.test(e);

function signalEach(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone since the scan, or not ours to signal (EPERM).
    }
  }
}
