import { bytes, mib, ms, ratio, signedMib } from './stats.mjs';

/**
 * Turns results into tables: the same Markdown goes to stdout and to docs/BENCHMARKS.md.
 * With a reference there are three more columns: its figure, ours/its ratio and the target.
 */
export function buildTables(r, impls) {
  const ours = impls[0];
  const ref = impls.find((i, n) => n > 0 && i.key !== 'plain');
  const hasRef = Boolean(ref);
  // Targets are stated against the Go helper; against another build of ours (--baseline) they do not apply.
  const goRef = ref?.key === 'go';
  const ratioName = hasRef ? `ratio ${ours.short}/${ref.short}` : '';
  const tables = [];
  const header = hasRef ? ['measurement', ours.label, ref.label, ratioName, 'target', 'met'] : ['measurement', ours.label, 'target', 'met'];
  const rowFor = (mine) => (name, get, fmt, target) => {
    const a = get(r, mine.key);
    if (!hasRef) {
      const verdict = target?.solo ? target.solo(a) : undefined;
      return [name, fmt(a), target?.text ?? '', verdict === undefined ? '' : verdict ? 'yes' : 'NO'];
    }
    const b = get(r, ref.key);
    const verdict = target?.check && (goRef || target.solo) ? target.check(a, b) : undefined;
    return [name, fmt(a), fmt(b), ratio(a, b), target?.text ?? '', verdict === undefined ? '' : verdict ? 'yes' : 'NO'];
  };
  const row = rowFor(ours);
  const notWorse = { text: '≤ Go', check: (a, b) => a <= b };

  const latencyTable = (title, lat, where) => {
    const get = (field) => (x, k) => lat[k][field];
    return {
      title,
      note: `Agent sends a new X509SVIDResponse → the wrapped child has SIGHUP, files checked after each; ${lat[ours.key].n} rotations per helper in ${r.options.blocks} alternating blocks, ${r.options.gapMs} ms apart; ${where}.`,
      header,
      rows: [
        row('p50', get('p50'), ms, notWorse),
        row('p95', get('p95'), ms, notWorse),
        row('p99', get('p99'), ms, notWorse),
        row('max', get('max'), ms),
        row('signals not matched to a rotation', get('extraSignals'), String, { text: '0', check: (a) => a === 0, solo: (a) => a === 0 }),
      ],
    };
  };
  if (r.latency) tables.push(latencyTable('Rotation latency', r.latency, `cert dir on ${r.machine.fsType}`));
  if (r.latencyTmpfs) {
    tables.push(latencyTable('Rotation latency, cert dir on tmpfs', r.latencyTmpfs, 'cert dir in /dev/shm, where fsync costs nothing: the difference to the table above is what durability costs'));
  }
  if (r.oneShot || r.firstFile) {
    const rows = [];
    if (r.oneShot) {
      const limit = r.oneShot.floor.median + 40;
      const oneShotTarget = { text: `≤ \`node -e 0\` + 40 ms (${ms(limit)})`, check: (a) => a <= limit, solo: (a) => a <= limit };
      rows.push(row('one-shot: start → files → exit (median)', (x, k) => x.oneShot[k].median, ms, oneShotTarget));
      rows.push(row('one-shot: fastest run', (x, k) => x.oneShot[k].min, ms));
    }
    if (r.firstFile) {
      rows.push(row('daemon: start → first files complete (median)', (x, k) => x.firstFile[k].median, ms));
      rows.push(row('daemon: fastest run', (x, k) => x.firstFile[k].min, ms));
    }
    if (r.oneShot) {
      const floor = (name, v) => (hasRef ? [name, ms(v.median), '', '', '', ''] : [name, ms(v.median), '', '']);
      rows.push(floor('floor: `node -e 0` (median)', r.oneShot.floor));
      rows.push(floor(`floor: ${ours.label} \`--version\`, every module loaded (median)`, r.oneShot.modulesOnly));
    }
    const runs = (r.oneShot ?? r.firstFile)[ours.key].n;
    tables.push({ title: 'Start-up', note: `Median of ${runs} runs each, helpers alternating, one dev agent for all.`, header, rows });
  }
  const growthOk = (a, steady) => a <= Math.max(1024, 0.02 * steady);
  // Memory targets are set against bare node of the same version and flags (the pod section's floor).
  const floorOf = (f, extraKb, what) => {
    const v = r.pod?.floor?.[f];
    if (v === undefined) return undefined;
    return { text: `≤ bare node ${what} + ${extraKb / 1024} MiB (${mib(v + extraKb)})`, check: (a) => a <= v + extraKb, solo: (a) => a <= v + extraKb };
  };
  const memoryRows = (mine) => {
    const m = r.memory[mine.key];
    const mrow = rowFor(mine);
    return [
      mrow('RSS after start (first files written)', (x, k) => x.memory[k].startRssKb, mib),
      mrow(`steady RSS after ${m.from} rotations`, (x, k) => x.memory[k].steadyRssKb, mib, floorOf('rssKb', 8192, 'idle RSS')),
      mrow(`… of which anonymous (heap, stacks: this process's own)`, (x, k) => x.memory[k].steadyAnonKb, mib, floorOf('anonKb', 4096, 'anonymous')),
      mrow(`… of which file-backed (pages of the node or Go binary and libraries: shared, reclaimable)`, (x, k) => x.memory[k].steadyFileKb, mib),
      mrow(`peak RSS (VmHWM) after ${m.from} rotations`, (x, k) => x.memory[k].peakKb, mib),
      mrow(`peak RSS (VmHWM) after ${m.to} rotations`, (x, k) => x.memory[k].finalPeakKb, mib),
      mrow(`RSS growth, rotation ${m.from} → ${m.to} (back to back, ${r.options.settleMs / 1000} s after each)`, (x, k) => x.memory[k].growthKb, signedMib, {
        text: 'no growth',
        check: (a) => growthOk(a, m.steadyRssKb),
        solo: (a) => growthOk(a, m.steadyRssKb),
      }),
      mrow(`RSS after ${m.from} rotations, then ${r.options.memIdleMs / 1000} s idle`, (x, k) => x.memory[k].steadyIdleRssKb, mib),
      mrow(`RSS after ${m.to} rotations, then ${r.options.memIdleMs / 1000} s idle`, (x, k) => x.memory[k].finalIdleRssKb, mib),
      mrow(`RSS growth, rotation ${m.from} → ${m.to}, each measured after the idle time`, (x, k) => x.memory[k].idleGrowthKb, signedMib, {
        text: 'no growth',
        check: (a) => growthOk(a, m.steadyRssKb),
        solo: (a) => growthOk(a, m.steadyRssKb),
      }),
    ];
  };
  if (r.memory) {
    const note = `RSS of the helper process (/proc/<pid>/status), sampled ${r.options.settleMs} ms after the last rotation of each checkpoint. "No growth" means at most max(1 MiB, 2% of the steady RSS).`;
    tables.push({ title: 'Memory', note, header, rows: memoryRows(ours) });
    const plain = impls.find((i) => i.key === 'plain');
    if (plain) {
      tables.push({
        title: 'Memory, our helper without the launcher (node dist/cli.js)',
        note: 'The same run for our helper started as `node dist/cli.js`: unbundled, and without the V8 flags bin/spiffe-helper sets (`--max-semi-space-size=1`: with the default, V8 grows the young generation by several MiB after a few thousand rotations while the heap after each GC stays flat; `--no-opt`: no optimising compiler). See the notes.',
        header: hasRef ? ['measurement', plain.label, ref.label, `ratio ${plain.short}/${ref.short}`, 'target', 'met'] : ['measurement', plain.label, 'target', 'met'],
        rows: memoryRows(plain),
      });
    }
    const shown = impls.filter((i) => r.memory[i.key]);
    const cps = r.memory[ours.key].samples.map((s) => s.rotations);
    tables.push({
      title: 'Memory: RSS at each checkpoint',
      note: 'RSS / VmHWM in MiB.',
      header: ['rotations', ...shown.map((i) => i.label)],
      rows: cps.map((c) => [String(c), ...shown.map((i) => {
        const s = r.memory[i.key].samples.find((x) => x.rotations === c);
        return s ? `${(s.rssKb / 1024).toFixed(1)} / ${(s.hwmKb / 1024).toFixed(1)}` : '';
      })]),
    });
  }
  if (r.idle) {
    const { seconds: secs, settleSeconds: settle } = r.idle[ours.key];
    tables.push({
      title: 'Idle cost',
      note: `Helpers side by side, stream open, no rotation. First the ${settle} s after the first files are written (start-up housekeeping: V8's memory reducer runs two full GCs about 8 s after start), then ${secs} s of idling measured. CPU = utime+stime of all threads from /proc/<pid>/stat (resolution 10 ms); wake-ups = context switches of all threads.`,
      header,
      rows: [
        row(`CPU in the ${settle} s after the first files`, (x, k) => x.idle[k].settleCpuMs, (v) => `${v.toFixed(0)} ms`),
        row(`CPU time over the next ${secs} s`, (x, k) => x.idle[k].cpuMs, (v) => `${v.toFixed(0)} ms`, { text: '0 ms', check: (a) => a === 0, solo: (a) => a === 0 }),
        row(`context switches over those ${secs} s`, (x, k) => x.idle[k].contextSwitches, String),
        row('threads', (x, k) => x.idle[k].threads, String),
      ],
    });
  }
  if (r.pod) {
    const p = r.pod;
    const shown = [{ key: 'floor', label: 'bare node (floor)' }, ...impls.filter((i) => p[i.key])];
    const cg = p.cgroupVersion ? `memory cgroup v${p.cgroupVersion}` : 'no writable memory cgroup here: cgroup rows n/a';
    const prow = (name, get) => [name, ...shown.map((i) => (Number.isFinite(get(p[i.key])) ? mib(get(p[i.key])) : 'n/a')), Number.isFinite(get(p[ours.key])) ? signedMib(get(p[ours.key]) - get(p.floor)) : 'n/a'];
    tables.push({
      title: 'What a pod is charged',
      note: `${p.instances} copies of each side by side (one dev agent, no wrapped child), each process in a ${cg} of its own from its first instruction; bare node idles with the launcher's V8 flags. Sampled after ${r.options.memIdleMs / 1000} s idle; mean per copy. The cgroup charges anonymous and kernel memory (page tables, stacks, slab, sockets) to the process that allocated it; file pages (the node or Go binary) go to whoever read them first, so "page cache" is mostly 0 here and the binary's pages are in PSS, shared among the copies.`,
      header: ['measurement (mean per copy)', ...shown.map((i) => i.label), `${ours.short} − floor`],
      rows: [
        prow('RSS', (x) => x.rssKb),
        prow('RSS anonymous', (x) => x.anonKb),
        prow('cgroup: anonymous', (x) => x.cgAnonKb),
        prow('cgroup: kernel memory', (x) => x.cgKernelKb),
        prow('cgroup: anonymous + kernel (what a pod limit counts, binary pages aside)', (x) => x.cgAnonKb + x.cgKernelKb),
        prow('cgroup: page cache charged', (x) => x.cgFileKb),
        prow(`PSS with ${p.instances} copies running`, (x) => x.pssKb),
        prow('… PSS anonymous', (x) => x.pssAnonKb),
        prow('… PSS file-backed (shared pages divided among the copies)', (x) => x.pssFileKb),
      ],
    });
  }
  if (r.scale) {
    const compared = hasRef ? [ours, ref] : [ours];
    const h = ['response', 'size on the wire', ...compared.map((i) => i.label), ...(hasRef ? [ratioName] : [])];
    tables.push({
      title: 'Scale: validate and write one response',
      note: `Median of ${r.options.scaleSamples} updates per shape, measured like the rotation latency (agent sends → child has SIGHUP); bundles include federated CAs (include_federated_domains = true) when there are any. gRPC receive limits: ours 32 MiB (maxReceiveBytes in src/workload/client.ts), the Go helper gRPC's default 4 MiB; every message here is far below both.`,
      header: h,
      rows: r.scale.map((s) => [s.label, bytes(s.bytes), ...compared.map((i) => ms(s[i.key].median)), ...(hasRef ? [ratio(s[ours.key].median, s[ref.key].median)] : [])]),
    });
  }
  if (r.startup) tables.push(...r.startup.tables);
  return tables;
}

export function renderMarkdown(tables) {
  return tables
    .map((t) => {
      const line = (cells) => `| ${cells.join(' | ')} |`;
      return [`### ${t.title}`, '', t.note ?? '', '', line(t.header), line(t.header.map(() => '---')), ...t.rows.map(line), ''].join('\n');
    })
    .join('\n');
}
