import { readdir, readFile } from 'node:fs/promises';

/**
 * A process group the helper created (`spawn` with `detached`: a new session whose id is the
 * leader's pid). Everything the program forks stays in it unless it calls setsid itself, so
 * signalling the group reaches the real program behind a shell entrypoint, and an empty group
 * means nothing is left behind.
 */
export class ProcessGroup {
  /** Set once the group was seen empty: its id may then be reused by an unrelated group. */
  private gone = false;

  constructor(readonly pgid: number) {}

  /** Sends `sig` to every member (0: only checks that one exists); false when none is left. */
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

  /** A member that the helper may not signal (a setuid program) still exists: EPERM. */
  private exists(): boolean {
    try {
      return this.signal(0);
    } catch {
      return true;
    }
  }

  /**
   * Pids of the members still running. Zombies do not count: they are dead, and when the
   * helper is PID 1 nobody reaps the orphaned ones (Node reaps only its own children).
   */
  async members(): Promise<number[]> {
    if (!this.exists()) return [];
    const live = await liveMembersFromProc(this.pgid);
    if (live?.length === 0) this.gone = true;
    // Without /proc, "some process has this group id" is all that can be known.
    return live ?? [this.pgid];
  }
}

/** Members of a group that are not zombies, from /proc; undefined where there is no /proc. */
async function liveMembersFromProc(pgid: number): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const found = await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (pid) => {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(pgrp) === pgid && state !== 'Z' && state !== 'X' ? Number(pid) : undefined;
      }),
  );
  return found.filter((p) => p !== undefined);
}
