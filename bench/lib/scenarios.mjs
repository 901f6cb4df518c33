import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDevAgent } from '../../dist/dev/agent.js';
import { memoryCgroups, pss } from './cgroup.mjs';
import { benchEnv } from './env.mjs';
import { launcherFlags } from './impls.mjs';
import { expectedFiles, wireSize } from './messages.mjs';
import { contextSwitches, cpuMs, memory, threads } from './proc.mjs';
import { checkFiles, HelperProcess, whenFilesComplete } from './session.mjs';
import { median, percentile } from './stats.mjs';

/**
 * The measurements. Each takes the helpers under test (`impls`, ours first) and returns plain
 * numbers keyed by impl.key; run.mjs turns them into tables. Wherever two helpers are compared
 * they run against identical dev agents, one after the other, alternating.
 */

export class Bench {
  constructor({ impls, minter, workDir, options, progress }) {
    this.impls = impls;
    this.minter = minter;
    this.workDir = workDir;
    this.o = options;
    this.progress = progress ?? (() => undefined);
  }

  tmp(prefix) {
    return mkdtempSync(join(this.workDir, prefix));
  }

  async agent(dir, first) {
    const agent = await startDevAgent({ socketPath: join(dir, 'a.sock'), svidTtlSeconds: 86_400 });
    // What a stream gets when it opens: the prepared message, not the agent's own SVID.
    agent.pushX509(first);
    return agent;
  }

  /** A helper in daemon mode wrapping bench/child.mjs, with its first files written. */
  async daemon(impl, first, { federated = false } = {}) {
    const dir = this.tmp('d-');
    const agent = await this.agent(dir, first);
    const certDir = join(dir, 'certs');
    mkdirSync(certDir); // the Go helper does not create it
    const conf = impl.writeConfig(dir, { socketPath: agent.socketPath, certDir, child: true, federated });
    const [cmd, args] = impl.daemon(conf);
    const h = new HelperProcess(cmd, args, { label: impl.label, timeoutMs: this.o.waitMs });
    await h.next('ready');
    checkFiles(certDir, expectedFiles(first), impl.label);
    return {
      h,
      agent,
      certDir,
      /** Sends `msg`; resolves with the ms until the child got SIGHUP, files checked. */
      rotate: async (msg, expected) => {
        const hup = h.next('hup');
        const t0 = performance.now();
        agent.pushX509(msg);
        const t1 = await hup;
        if (expected) checkFiles(certDir, expected, impl.label);
        return t1 - t0;
      },
      close: async () => {
        await h.stop();
        await agent.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  /** Rotation latency: agent sends → child has SIGHUP with every file in place. */
  async latency(pool) {
    const expected = pool.map(expectedFiles);
    const per = Math.ceil(this.o.rotations / this.o.blocks);
    const samples = Object.fromEntries(this.impls.map((i) => [i.key, []]));
    const unexpected = Object.fromEntries(this.impls.map((i) => [i.key, 0]));
    let n = 1;
    for (let b = 0; b < this.o.blocks; b++) {
      for (const impl of this.impls) {
        this.progress(`latency: ${impl.label}, block ${b + 1}/${this.o.blocks} (${per} rotations)`);
        const s = await this.daemon(impl, pool[0]);
        try {
          for (let i = 0; i < per; i++) {
            const k = cycle(n + i, pool.length);
            samples[impl.key].push(await s.rotate(pool[k], expected[k]));
            await sleep(this.o.gapMs);
          }
          unexpected[impl.key] += s.h.unexpectedHups;
        } finally {
          await s.close();
        }
      }
      n += per;
    }
    const out = {};
    for (const impl of this.impls) {
      const xs = samples[impl.key];
      out[impl.key] = { n: xs.length, p50: percentile(xs, 0.5), p95: percentile(xs, 0.95), p99: percentile(xs, 0.99), max: Math.max(...xs), extraSignals: unexpected[impl.key] };
    }
    return out;
  }

  /**
   * RSS after `checkpoint` rotations and at every further checkpoint up to `memRotations`,
   * rotations back to back. At the steady checkpoint (`memSteady`, the first unless asked) and
   * the last also once the helper has been idle for `memIdleMs`: a burst leaves garbage in V8's
   * old generation that only a full GC collects, and V8's memory reducer runs one when the
   * process goes idle, as a helper does between rotations minutes apart. The garbage's
   * ArrayBuffers are malloc'd, and glibc keeps the heap they grew (bench/notes.md, issue 13).
   */
  async memory(pool) {
    const out = {};
    for (const impl of this.impls) {
      this.progress(`memory: ${impl.label}, ${this.o.memRotations} rotations`);
      const s = await this.daemon(impl, pool[0]);
      try {
        await sleep(this.o.settleMs);
        const samples = [{ rotations: 0, ...memory(s.h.pid) }];
        for (let r = 1; r <= this.o.memRotations; r++) {
          const k = cycle(r, pool.length);
          await s.rotate(pool[k], r % 500 === 0 ? expectedFiles(pool[k]) : undefined);
          if (r % this.o.checkpoint === 0) {
            await sleep(this.o.settleMs);
            const sample = { rotations: r, ...memory(s.h.pid) };
            if (r === this.o.memSteady || r === this.o.memRotations) {
              await sleep(this.o.memIdleMs);
              sample.idleRssKb = memory(s.h.pid).rssKb;
            }
            samples.push(sample);
            this.progress(`memory: ${impl.label}, ${r} rotations: RSS ${(sample.rssKb / 1024).toFixed(1)} MiB${sample.idleRssKb ? `, ${(sample.idleRssKb / 1024).toFixed(1)} MiB once idle` : ''}`);
          }
        }
        const at = (r) => samples.find((x) => x.rotations === r);
        const first = at(this.o.memSteady) ?? samples.at(-1);
        const last = samples.at(-1);
        out[impl.key] = {
          samples,
          startRssKb: samples[0].rssKb,
          steadyRssKb: first.rssKb,
          steadyAnonKb: first.anonKb,
          steadyFileKb: first.fileKb,
          peakKb: first.hwmKb,
          finalPeakKb: last.hwmKb,
          growthKb: last.rssKb - first.rssKb,
          steadyIdleRssKb: first.idleRssKb,
          finalIdleRssKb: last.idleRssKb,
          idleGrowthKb: last.idleRssKb - first.idleRssKb,
          from: first.rotations,
          to: last.rotations,
        };
      } finally {
        await s.close();
      }
    }
    return out;
  }

  /** CPU used with nothing to do: every helper at once, each with its own agent, no rotation. */
  async idle(first) {
    this.progress(`idle: ${this.impls.map((i) => i.label).join(' and ')} side by side, ${this.o.idleSettleSeconds} s + ${this.o.idleSeconds} s`);
    const sessions = [];
    try {
      const started = [];
      for (const impl of this.impls) {
        const s = await this.daemon(impl, first);
        sessions.push(s);
        started.push(cpuMs(s.h.pid));
      }
      await sleep(this.o.idleSettleSeconds * 1000);
      const before = sessions.map((s) => ({ cpu: cpuMs(s.h.pid), cs: contextSwitches(s.h.pid) }));
      await sleep(this.o.idleSeconds * 1000);
      const out = {};
      sessions.forEach((s, i) => {
        out[this.impls[i].key] = {
          seconds: this.o.idleSeconds,
          settleSeconds: this.o.idleSettleSeconds,
          settleCpuMs: before[i].cpu - started[i],
          cpuMs: cpuMs(s.h.pid) - before[i].cpu,
          contextSwitches: contextSwitches(s.h.pid) - before[i].cs,
          threads: threads(s.h.pid),
        };
      });
      return out;
    } finally {
      for (const s of sessions) await s.close();
    }
  }

  /**
   * What a pod is charged: `instances` copies of each helper side by side (no child, one agent),
   * each in a memory cgroup of its own, and as many bare `node` processes with the launcher's
   * V8 flags idling (the floor), sampled after `memIdleMs` of idling: the cgroup's anonymous and
   * kernel memory, and PSS (/proc/<pid>/smaps_rollup: pages shared between the copies, such as
   * the node binary's, count once in all).
   */
  async pod(first, instances) {
    const cgroups = memoryCgroups();
    const dir = this.tmp('p-');
    const agent = await this.agent(dir, first);
    const floor = { key: 'floor', label: 'bare node' };
    const out = { instances, cgroupVersion: cgroups?.version, cgroupDir: cgroups?.dir };
    try {
      for (const impl of [floor, ...this.impls]) {
        this.progress(`pod: ${instances} × ${impl.label}, each in its own memory cgroup, ${this.o.memIdleMs / 1000} s idle`);
        const running = [];
        try {
          for (let i = 0; i < instances; i++) {
            const cg = cgroups?.create(`${impl.key}-${i}`);
            const idir = join(dir, `${impl.key}-${i}`);
            const certDir = join(idir, 'certs');
            mkdirSync(certDir, { recursive: true });
            let [cmd, args] =
              impl === floor
                ? [process.execPath, [...launcherFlags(), '-e', 'setInterval(() => {}, 2 ** 30)']]
                : impl.daemon(impl.writeConfig(idir, { socketPath: agent.socketPath, certDir }));
            if (cg) [cmd, args] = cg.wrap(cmd, args);
            let h;
            const written = impl === floor ? sleep(200) : whenFilesComplete(certDir, this.o.waitMs, () => h.error('wrote no files'));
            h = new HelperProcess(cmd, args, { label: impl.label, timeoutMs: this.o.waitMs });
            running.push({ h, cg });
            await written;
          }
          await sleep(this.o.memIdleMs);
          const samples = running.map(({ h, cg }) => ({ ...memory(h.pid), ...pss(h.pid), ...(cg ? cg.read() : {}) }));
          const mean = (f) => samples.reduce((a, s) => a + s[f], 0) / samples.length;
          out[impl.key] = Object.fromEntries(['rssKb', 'anonKb', 'cgAnonKb', 'cgKernelKb', 'cgFileKb', 'cgUsageKb', 'pssKb', 'pssAnonKb', 'pssFileKb'].map((f) => [f, mean(f)]));
        } finally {
          for (const { h, cg } of running) {
            await h.stop();
            cg?.remove();
          }
        }
      }
    } finally {
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  }

  /** One-shot wall time (spawn → files → exit), alternating helpers, plus bare node as the floor. */
  async oneShot(first) {
    const dir = this.tmp('o-');
    const agent = await this.agent(dir, first);
    const expected = expectedFiles(first);
    const times = Object.fromEntries(this.impls.map((i) => [i.key, []]));
    const floor = [];
    const modulesOnly = [];
    try {
      for (let r = 0; r < this.o.runs; r++) {
        this.progress(`one-shot: run ${r + 1}/${this.o.runs}`);
        for (const impl of this.impls) {
          const certDir = join(dir, `certs-${impl.key}-${r}`);
          mkdirSync(certDir);
          const conf = impl.writeConfig(dir, { socketPath: agent.socketPath, certDir });
          const [cmd, args] = impl.once(conf);
          const h = new HelperProcess(cmd, args, { label: impl.label, timeoutMs: this.o.waitMs });
          const { code, signal, at } = await h.exited;
          if (code !== 0) throw h.error(`one-shot exited with ${signal ?? code}`);
          checkFiles(certDir, expected, impl.label);
          times[impl.key].push(at - h.startedAt);
        }
        floor.push(await wallTime(process.execPath, ['-e', '0']));
        modulesOnly.push(await wallTime(...this.impls[0].command(['--version'])));
      }
    } finally {
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const out = { floor: summary(floor), modulesOnly: summary(modulesOnly) };
    for (const impl of this.impls) out[impl.key] = summary(times[impl.key]);
    return out;
  }

  /** Daemon mode: spawn → the three files complete on disk (inotify), alternating helpers. */
  async firstFile(first) {
    const dir = this.tmp('f-');
    const agent = await this.agent(dir, first);
    const expected = expectedFiles(first);
    const times = Object.fromEntries(this.impls.map((i) => [i.key, []]));
    try {
      for (let r = 0; r < this.o.runs; r++) {
        this.progress(`first file (daemon): run ${r + 1}/${this.o.runs}`);
        for (const impl of this.impls) {
          const certDir = join(dir, `certs-${impl.key}-${r}`);
          mkdirSync(certDir);
          const conf = impl.writeConfig(dir, { socketPath: agent.socketPath, certDir });
          const [cmd, args] = impl.daemon(conf);
          let h;
          const written = whenFilesComplete(certDir, this.o.waitMs, () => h.error('wrote no files'));
          h = new HelperProcess(cmd, args, { label: impl.label, timeoutMs: this.o.waitMs });
          try {
            const at = await written;
            checkFiles(certDir, expected, impl.label);
            times[impl.key].push(at - h.startedAt);
          } finally {
            await h.stop();
          }
        }
      }
    } finally {
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return Object.fromEntries(this.impls.map((i) => [i.key, summary(times[i.key])]));
  }

  /** Time to validate and write one response of a given shape (daemon mode, child signalled). */
  async scale(shapes) {
    const out = [];
    for (const shape of shapes) {
      this.progress(`scale: ${shape.label}: minting ${this.o.scaleSamples + 1} messages`);
      const msgs = await this.minter.mint(shape, this.o.scaleSamples + 1);
      const row = { ...shape, bytes: wireSize(msgs[0]) };
      for (const impl of this.impls) {
        this.progress(`scale: ${shape.label}: ${impl.label}`);
        const s = await this.daemon(impl, msgs[0], { federated: shape.federated > 0 });
        const xs = [];
        try {
          for (const m of msgs.slice(1)) {
            xs.push(await s.rotate(m, expectedFiles(m)));
            await sleep(this.o.gapMs);
          }
        } finally {
          await s.close();
        }
        row[impl.key] = summary(xs);
      }
      out.push(row);
    }
    return out;
  }
}

/** Index of the r-th rotation's message (r ≥ 1): 1..len-1 round and round; 0 is the initial state. */
function cycle(r, len) {
  return 1 + ((r - 1) % (len - 1));
}

function summary(xs) {
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** Wall time of a process from spawn to exit, in ms. */
export function wallTime(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: 'ignore', env: benchEnv, ...options });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}
