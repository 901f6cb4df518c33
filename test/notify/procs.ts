import { readdirSync, readFileSync } from 'node:fs';

/** State and process group of a pid from /proc, or undefined once it is gone. */
function stat(pid: number): { state: string; pgrp: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const [state, , pgrp] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: state!, pgrp: Number(pgrp) };
}

/** Running (a zombie is dead: it only waits for its parent to collect its status). */
export function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/** Pids of the live processes whose process group is `pgid`. */
export function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => stat(pid)?.pgrp === pgid && alive(pid));
}

/** The pids a test script appended to `file`, one per line. */
export function pidsIn(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
