#!/usr/bin/env node
// npm run bench [-- --reference <go spiffe-helper binary>] [--smoke] [--out FILE] [--json FILE]
//
// Measures the helper (bin/spiffe-helper; `npm run bench` builds it first) against the built-in
// development agent: rotation latency, start-up, memory, idle cost, scale, and a start-up
// profile. With --reference, runs the Go spiffe-helper the same way in the same run,
// alternating, and prints ratios. Writes docs/BENCHMARKS.md (not with --smoke, unless --out).
// bench/build-reference.sh builds the Go helper.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `usage: node bench/run.mjs [options]
  --reference BIN      the Go spiffe-helper to compare with (bench/build-reference.sh builds one)
  --baseline FILE      instead of a reference: another build of our helper (its cli.js), e.g.
                       the one before an optimisation, measured the same way, alternating
  --node-args ARGS     run our helper as \`node ARGS dist/cli.js\` instead of bin/spiffe-helper
  --smoke              one small iteration of everything (what npm test runs)
  --out FILE           Markdown report (default docs/BENCHMARKS.md; none with --smoke)
  --json FILE          raw results as JSON
  --only LIST          comma-separated: latency,latency-tmpfs,oneshot,firstfile,memory,memory-plain,
                       idle,pod,scale,startup (pod: N copies of each helper and of bare node side by
                       side, each in its own memory cgroup: cgroup anonymous + kernel memory, PSS)
                       (memory-plain: our helper's memory run again as
                       \`node dist/cli.js\`, unbundled and without bin/spiffe-helper's V8 flags)
                       (latency-tmpfs: the latency again with cert dirs in /dev/shm, where fsync
                       costs nothing; skipped when --dir is already on tmpfs)
  --cli FILE           run our helper as \`node FILE\` instead of bin/spiffe-helper
  --dir DIR            where cert dirs and sockets go (default: the OS temp dir)
  --rotations N        rotation latency samples per helper (default 300)
  --blocks N           alternating blocks the rotations are split into (default 3)
  --mem-rotations N    rotations of the memory run (default 8000)
  --checkpoint N       memory sample every N rotations; steady RSS at the first (default 1000)
  --mem-steady N       take the steady RSS (and the growth from it) at rotation N, a multiple of
                       --checkpoint (default 4000 when the run is longer, else the first checkpoint): back to
                       back, glibc's heap grows for the first ~3,000 rotations and then stays
                       (bench/notes.md, issue 13)
  --mem-idle-seconds N idle time before the extra RSS sample at the steady and last checkpoint
                       (default 20: V8's memory reducer runs a full GC once the process idles)
  --idle-seconds N     idle measurement length (default 60)
  --idle-settle-seconds N  time after the first files before the idle measurement starts
                       (default 15: V8's start-up housekeeping, reported on its own row)
  --runs N             one-shot / first-file / start-up runs per variant (default 10)
  --scale-samples N    updates per scale shape (default 5)
  --instances N        copies per helper in the pod section (default 10)
  --variant NAME=FILE  start-up profile: also time the one-shot of this build of the helper
                       (e.g. an older dist/cli.js), alternating with the others; repeatable`;

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: a } = parseArgs({
  options: {
    reference: { type: 'string' },
    baseline: { type: 'string' },
    'node-args': { type: 'string' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    json: { type: 'string' },
    only: { type: 'string' },
    cli: { type: 'string' },
    dir: { type: 'string' },
    rotations: { type: 'string' },
    blocks: { type: 'string' },
    'mem-rotations': { type: 'string' },
    'mem-idle-seconds': { type: 'string' },
    checkpoint: { type: 'string' },
    'mem-steady': { type: 'string' },
    'idle-seconds': { type: 'string' },
    'idle-settle-seconds': { type: 'string' },
    runs: { type: 'string' },
    'scale-samples': { type: 'string' },
    instances: { type: 'string' },
    variant: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (a.help) {
  console.log(HELP);
  process.exit(0);
}

const smoke = a.smoke;
const num = (v, full, small) => (v === undefined ? (smoke ? small : full) : Number(v));
const options = {
  rotations: num(a.rotations, 300, 3),
  blocks: num(a.blocks, 3, 1),
  memRotations: num(a['mem-rotations'], 8000, 20),
  checkpoint: num(a.checkpoint, 1000, 10),
  memSteady: a['mem-steady'] === undefined ? undefined : Number(a['mem-steady']),
  idleSeconds: num(a['idle-seconds'], 60, 1),
  idleSettleSeconds: num(a['idle-settle-seconds'], 15, 0.2),
  runs: num(a.runs, 10, 1),
  scaleSamples: num(a['scale-samples'], 5, 1),
  instances: num(a.instances, 10, 2),
  gapMs: smoke ? 1 : 5,
  settleMs: smoke ? 50 : 1000,
  memIdleMs: num(a['mem-idle-seconds'], 20, 0.1) * 1000,
  waitMs: 30_000,
  cliPath: a.cli ? resolve(a.cli) : undefined,
};
if (options.memSteady === undefined) options.memSteady = options.memRotations > 4000 && 4000 % options.checkpoint === 0 ? 4000 : options.checkpoint;
else if (!(options.memSteady > 0 && options.memSteady % options.checkpoint === 0 && options.memSteady < options.memRotations)) {
  throw new Error(`--mem-steady ${a['mem-steady']}: a multiple of --checkpoint (${options.checkpoint}) below --mem-rotations (${options.memRotations})`);
}
const sections = new Set((a.only ?? 'latency,latency-tmpfs,oneshot,firstfile,memory,memory-plain,idle,pod,scale,startup').split(','));
const shapes = smoke
  ? [
      { label: '1 SVID, 1 CA, 0 federated', svids: 1, cas: 1, federated: 0 },
      { label: '2 SVIDs', svids: 2, cas: 1, federated: 0 },
      { label: '3 CA certs', svids: 1, cas: 3, federated: 0 },
      { label: '2 federated domains', svids: 1, cas: 1, federated: 2 },
    ]
  : [
      { label: '1 SVID, 1 CA, 0 federated', svids: 1, cas: 1, federated: 0 },
      { label: '10 SVIDs', svids: 10, cas: 1, federated: 0 },
      { label: '100 SVIDs', svids: 100, cas: 1, federated: 0 },
      { label: '100 CA certs', svids: 1, cas: 100, federated: 0 },
      { label: '1,000 CA certs', svids: 1, cas: 1000, federated: 0 },
      { label: '10 federated domains', svids: 1, cas: 1, federated: 10 },
      { label: '100 federated domains', svids: 1, cas: 1, federated: 100 },
    ];

const { buildTables, renderMarkdown } = await import('./lib/report.mjs');
const { killAll } = await import('./lib/session.mjs');
const { goReference, ours, oursPlain } = await import('./lib/impls.mjs');
const { loadAverage, machine } = await import('./lib/proc.mjs');
const { removedVars } = await import('./lib/env.mjs');
const { launcherFlags } = await import('./lib/impls.mjs');
let Minter, Bench;
try {
  ({ Minter } = await import('./lib/messages.mjs'));
  ({ Bench } = await import('./lib/scenarios.mjs'));
} catch (e) {
  console.error(`bench: cannot load the built helper (${e.message}); run \`npm run build\` first`);
  process.exit(2);
}
const { profileStartup } = await import('./lib/startup.mjs');

const nodeArgs = a['node-args'] ? a['node-args'].split(' ').filter(Boolean) : [];
const impls = [ours({ cliPath: options.cliPath, nodeArgs, ...(options.cliPath || nodeArgs.length ? { label: `node ${[...nodeArgs, a.cli ?? 'dist/cli.js'].join(' ')}` } : {}) })];
if (a.reference && a.baseline) throw new Error('--reference and --baseline: one or the other');
if (a.reference) impls.push(goReference(resolve(a.reference)));
// The baseline runs under the same --node-args as ours, so that only the build differs.
if (a.baseline) impls.push(ours({ cliPath: resolve(a.baseline), nodeArgs, label: `baseline (${a.baseline})`, key: 'baseline', short: 'base' }));
const baseDir = a.dir ? resolve(a.dir) : tmpdir();
mkdirSync(baseDir, { recursive: true });
const workDir = mkdtempSync(join(baseDir, 'shb-'));
const started = Date.now();
const progress = (m) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);
const loadAtStart = loadAverage();
const results = { options, machine: machine(workDir), started: new Date(started).toISOString(), impls: impls.map((i) => ({ key: i.key, label: i.label, version: i.version })) };

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));

/** Who appears in the report: the helpers compared, plus our helper's plain-node memory run. */
const reported = [...impls];
const minter = await Minter.start(workDir);
try {
  const bench = new Bench({ impls, minter, workDir, options, progress });
  const poolSize = Math.max(3, Math.min(options.rotations, 300) + 1);
  progress(`minting ${poolSize} rotation messages`);
  const pool = await minter.mint({ svids: 1, cas: 1, federated: 0 }, poolSize);
  if (sections.has('oneshot')) results.oneShot = await bench.oneShot(pool[0]);
  if (sections.has('firstfile')) results.firstFile = await bench.firstFile(pool[0]);
  if (sections.has('latency')) results.latency = await bench.latency(pool);
  if (sections.has('latency-tmpfs') && existsSync('/dev/shm') && results.machine.fsType !== 'tmpfs') {
    const shmDir = mkdtempSync('/dev/shm/shb-');
    try {
      results.latencyTmpfs = await new Bench({ impls, minter, workDir: shmDir, options, progress: (m) => progress(`tmpfs ${m}`) }).latency(pool);
    } finally {
      rmSync(shmDir, { recursive: true, force: true });
    }
  }
  if (sections.has('memory')) results.memory = await bench.memory(pool);
  if (sections.has('memory') && sections.has('memory-plain') && !nodeArgs.length && !options.cliPath) {
    const plain = oursPlain();
    const r = await new Bench({ impls: [plain], minter, workDir, options, progress }).memory(pool);
    Object.assign(results.memory, r);
    reported.push(plain);
  }
  if (sections.has('idle')) results.idle = await bench.idle(pool[0]);
  if (sections.has('pod')) results.pod = await bench.pod(pool[0], options.instances);
  if (sections.has('scale')) results.scale = await bench.scale(shapes);
  if (sections.has('startup')) results.startup = await profileStartup({ root, workDir, runs: options.runs, progress, minter, first: pool[0], cliPath: options.cliPath, variants: (a.variant ?? []).map(parseVariant) });
} finally {
  await minter.close();
  killAll();
}
results.seconds = (Date.now() - started) / 1000;

function parseVariant(v) {
  const i = v.indexOf('=');
  if (i < 1) throw new Error(`--variant wants NAME=FILE, got ${v}`);
  return { name: v.slice(0, i), cli: resolve(v.slice(i + 1)) };
}
results.load = { start: loadAtStart, end: loadAverage() };

const m = results.machine;
const head = [
  '# Benchmarks',
  '',
  `Written by \`npm run bench\` (bench/run.mjs) on ${results.started.slice(0, 10)}; the whole run took ${results.seconds.toFixed(0)} s. Command: \`node bench/run.mjs ${process.argv.slice(2).join(' ')}\`. The method and the history of the optimisations are under [Notes](#notes), after the tables.`,
  '',
  '| | |',
  '| --- | --- |',
  `| machine | ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel} |`,
  `| Node | ${m.node} |`,
  `| node binary, launcher flags | ${process.execPath}; bin/spiffe-helper runs a daemon with \`${launcherFlags().join(' ') || 'no flags'}\` |`,
  `| environment | variables that change Node's start-up removed for every measured process (bench/lib/env.mjs): ${removedVars.length ? removedVars.map((v) => `\`${v}\` (was set)`).join(', ') : 'none was set'}; none other of them set |`,
  `| helpers | ${reported.map((i) => `${i.label}`).join('; ')} |`,
  `| cert dir file system | ${m.fsType} (ours fsyncs every file and the directory; the Go helper does not fsync) |`,
  `| load average (1/5/15 min) | at start ${results.load.start}, at end ${results.load.end} |`,
  `| mode | ${smoke ? 'smoke (tiny counts: the figures mean nothing)' : 'full'} |`,
  '',
].join('\n');
const markdown = `${head}\n${renderMarkdown(buildTables(results, reported))}`;
process.stdout.write(markdown);
const out = a.out ?? (smoke ? undefined : join(root, 'docs', 'BENCHMARKS.md'));
if (out) {
  // The file also gets the hand-written notes (method, how the reference is built, what was optimised).
  const notesFile = join(root, 'bench', 'notes.md');
  const notes = existsSync(notesFile) ? `\n${readFileSync(notesFile, 'utf8')}` : '';
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, markdown + notes);
  progress(`wrote ${out}`);
}
if (a.json) writeFileSync(a.json, JSON.stringify(results, null, 2));
