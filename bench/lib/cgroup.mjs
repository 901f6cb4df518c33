import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Memory cgroups, v1 or v2, whichever the machine has: each measured helper runs in a cgroup of
 * its own under the bench's, so what the kernel charges it (what a pod's memory limit counts)
 * can be read: anonymous memory plus kernel memory (page tables, stacks, slab, socket buffers).
 * File pages of the node or Go binary are charged to whoever read them first, usually not the
 * helper, so they are reported apart.
 */
export function memoryCgroups() {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1 = lines.map((l) => /^\d+:([^:]*):(.*)$/.exec(l)).find((m) => m && m[1].split(',').includes('memory'));
  const v2 = lines.map((l) => /^0::(.*)$/.exec(l)).find(Boolean);
  const candidates = [];
  if (v1) candidates.push({ version: 1, dir: join('/sys/fs/cgroup/memory', v1[2]) });
  if (v2) candidates.push({ version: 2, dir: join('/sys/fs/cgroup', v2[1]) }, { version: 2, dir: join('/sys/fs/cgroup/unified', v2[1]) });
  for (const c of candidates) {
    const probe = join(c.dir, `shb-probe-${process.pid}`);
    try {
      mkdirSync(probe);
      readFileSync(join(probe, c.version === 1 ? 'memory.usage_in_bytes' : 'memory.current'));
      rmdirSync(probe);
      return { ...c, create: (name) => cgroup(c.version, join(c.dir, `shb-${process.pid}-${name}`)) };
    } catch {
      try {
        rmdirSync(probe);
      } catch {
        // not created
      }
    }
  }
  return undefined;
}

function cgroup(version, dir) {
  mkdirSync(dir);
  const stat = () => Object.fromEntries(readFileSync(join(dir, 'memory.stat'), 'utf8').trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));
  const kib = (bytes) => Math.round(bytes / 1024);
  return {
    dir,
    /** [command, args] that start `cmd args` inside this cgroup from its first instruction. */
    wrap: (cmd, args) => ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, cmd, ...args]],
    read() {
      const s = stat();
      if (version === 1) {
        const kernel = Number(readFileSync(join(dir, 'memory.kmem.usage_in_bytes'), 'utf8'));
        return { cgAnonKb: kib(s.rss), cgKernelKb: kib(kernel), cgFileKb: kib(s.cache), cgUsageKb: kib(Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'utf8'))) };
      }
      const kernel = s.kernel ?? (s.kernel_stack ?? 0) + (s.pagetables ?? 0) + (s.percpu ?? 0) + (s.sock ?? 0) + (s.slab ?? 0);
      return { cgAnonKb: kib(s.anon), cgKernelKb: kib(kernel), cgFileKb: kib(s.file), cgUsageKb: kib(Number(readFileSync(join(dir, 'memory.current'), 'utf8'))) };
    },
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // a process still in it: left for the kernel to clean up with the bench's cgroup
      }
    },
  };
}

/** Proportional set size from /proc/<pid>/smaps_rollup: shared pages divided among their users, in KiB. */
export function pss(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { pssKb: field('Pss'), pssAnonKb: field('Pss_Anon'), pssFileKb: field('Pss_File') };
}

