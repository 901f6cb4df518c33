#!/usr/bin/env node
// Soak: the built helper (dist/cli.js, daemon mode) against the development agent, rotating once
// per second for an hour by default, with everything a real deployment has around it:
//   - a wrapped child (cmd = sh, renew_signal = SIGHUP) that counts its SIGHUPs;
//   - a concurrent reader (test/fixtures/reader.mjs) reading cert + key in a tight loop;
//   - the health endpoint polled every second (/live and /ready).
// Reports rotations, late rotations, reader anomalies, SIGHUPs, health failures, helper
// warnings/errors, and the helper's RSS (VmRSS) and open descriptors at start and end.
//
//   npm run build && node scripts/soak.mjs [--minutes 60 | --seconds N] [--layout files|atomic_dir]
//                                          [--interval-ms 1000] [--json report.json] [--keep]
//
// Exit status: 0 when no anomaly was seen, 1 otherwise, 2 on bad usage.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli.js');
const readerScript = join(root, 'test', 'fixtures', 'reader.mjs');

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      minutes: { type: 'string' },
      seconds: { type: 'string' },
      layout: { type: 'string', default: 'files' },
      'interval-ms': { type: 'string', default: '1000' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (e) {
  console.error(`soak: ${e.message}`);
  process.exit(2);
}
if (opts.help) {
  console.log('usage: node scripts/soak.mjs [--minutes N | --seconds N] [--layout files|atomic_dir] [--interval-ms MS] [--json FILE] [--keep]');
  process.exit(0);
}
const durationMs = opts.seconds !== undefined ? Number(opts.seconds) * 1000 : Number(opts.minutes ?? 60) * 60_000;
const intervalMs = Number(opts['interval-ms']);
const layout = opts.layout;
if (!(durationMs > 0) || !(intervalMs >= 50) || !['files', 'atomic_dir'].includes(layout)) {
  console.error('soak: --minutes/--seconds must be positive, --interval-ms at least 50, --layout files or atomic_dir');
  process.exit(2);
}
if (!existsSync(cli)) {
  console.error('soak: dist/cli.js is missing: run `npm run build` first');
  process.exit(2);
}
const { startDevAgent } = await import(join(root, 'dist', 'dev', 'agent.js'));

const log = (line) => console.log(`# soak: ${line}`);
const dir = mkdtempSync('/tmp/soak-');
const certs = join(dir, 'certs');
const helperLog = join(dir, 'helper.log');
const hupLog = join(dir, 'hup.log');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function procStats(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssKb: NaN, fds: NaN };
  }
}

function serialOnDisk() {
  try {
    return new X509Certificate(readFileSync(join(certs, 'svid.pem'))).serialNumber;
  } catch {
    return '';
  }
}

function leafSerial(chainDer) {
  const n = chainDer[1] & 0x80 ? chainDer[1] & 0x7f : 0;
  const len = n ? chainDer.readUIntBE(2, n) + 2 + n : chainDer[1] + 2;
  return new X509Certificate(chainDer.subarray(0, len)).serialNumber;
}

async function httpOk(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

const agent = await startDevAgent({ socketPath: join(dir, 'agent.sock'), svidTtlSeconds: 3600 });
const port = await freePort();
const childScript = `trap 'echo h >> ${hupLog}' HUP; while :; do sleep 0.1; done`;
writeFileSync(
  join(dir, 'helper.conf'),
  `agent_address = "${agent.address}"
cert_dir = "${certs}"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "bundle.pem"
file_layout = "${layout}"
cmd = "sh"
cmd_args = ["-c", ${JSON.stringify(childScript)}]
renew_signal = "SIGHUP"
cmd_stop_grace_period = "2s"
# One rotation a second is faster than the default 1 s settle period after each signal allows.
renew_settle_period = "200ms"

[health_checks]
listener_enabled = true
bind_port = ${port}
`,
);

let helperStderr = '';
const helper = spawn(process.execPath, [cli, '--config', join(dir, 'helper.conf')], {
  env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: '' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
helper.stderr.on('data', (d) => (helperStderr += d));
let helperExit;
const helperDone = new Promise((r) => helper.on('exit', (code, signal) => r((helperExit = { code, signal }))));

const report = {
  layout,
  interval_ms: intervalMs,
  planned_ms: durationMs,
  elapsed_ms: 0,
  rotations: 0,
  late_rotations: 0,
  stuck_rotations: 0,
  rotation_latency_ms: { p50: 0, p99: 0, max: 0 },
  hups: 0,
  reader: undefined,
  reader_anomalies: 0,
  health_polls: 0,
  health_failures: 0,
  helper_warnings: 0,
  helper_errors: 0,
  helper_alive_at_end: false,
  helper_exit: undefined,
  rss_kb: { start: NaN, end: NaN, max: 0 },
  fds: { start: NaN, end: NaN, min: Infinity, max: 0 },
  anomalies: 0,
  dir,
};

const STUCK_MS = 5000;
const latencies = [];
const deadline = (ms, what) => {
  const t = Date.now() + ms;
  return () => {
    if (Date.now() > t) throw new Error(`soak: timed out waiting for ${what}\n${helperStderr}`);
  };
};

try {
  const firstWrite = deadline(15_000, 'the first write');
  while (!serialOnDisk()) {
    firstWrite();
    if (helperExit) throw new Error(`soak: the helper exited: ${JSON.stringify(helperExit)}\n${helperStderr}`);
    await sleep(50);
  }
  const readerOut = join(dir, 'reader.json');
  const reader = spawn(process.execPath, [readerScript, certs, layout, readerOut], { stdio: 'inherit' });
  const readerDone = new Promise((r) => reader.on('exit', r));

  // Warm up (JIT, first GCs) before taking the starting figures.
  for (let i = 0; i < 5; i++) {
    await agent.rotate();
    await sleep(200);
  }
  await sleep(500);
  Object.assign(report.rss_kb, { start: procStats(helper.pid).rssKb });
  Object.assign(report.fds, { start: procStats(helper.pid).fds });
  const hupsAtStart = existsSync(hupLog) ? readFileSync(hupLog, 'utf8').split('\n').filter(Boolean).length : 0;
  log(`started: layout=${layout}, ${durationMs / 1000} s at one rotation per ${intervalMs} ms; helper pid ${helper.pid}, RSS ${report.rss_kb.start} kB, ${report.fds.start} fds; dir ${dir}`);

  const started = Date.now();
  let nextHealth = started;
  let nextSample = started;
  let nextProgress = started + 60_000;
  while (Date.now() - started < durationMs && !helperExit) {
    const tick = Date.now();
    await agent.rotate();
    report.rotations++;
    const want = leafSerial(agent.current().svids[0].x509_svid);
    // Each rotation should be on disk well before the next one (late), and must be within 5 s (stuck).
    let landed = false;
    while (Date.now() - tick < STUCK_MS) {
      if (serialOnDisk() === want) {
        landed = true;
        break;
      }
      await sleep(5);
    }
    const latency = Date.now() - tick;
    latencies.push(latency);
    if (latency > intervalMs * 0.9) report.late_rotations++;
    if (!landed) report.stuck_rotations++;
    if (Date.now() >= nextHealth) {
      nextHealth += 1000;
      for (const path of ['/live', '/ready']) {
        report.health_polls++;
        if (!(await httpOk(`http://127.0.0.1:${port}${path}`))) report.health_failures++;
      }
    }
    if (Date.now() >= nextSample) {
      nextSample += 5000;
      const { rssKb, fds } = procStats(helper.pid);
      report.rss_kb.max = Math.max(report.rss_kb.max, rssKb || 0);
      report.fds.max = Math.max(report.fds.max, fds || 0);
      report.fds.min = Math.min(report.fds.min, fds || Infinity);
    }
    if (Date.now() >= nextProgress) {
      nextProgress += 60_000;
      const { rssKb, fds } = procStats(helper.pid);
      log(`${Math.round((Date.now() - started) / 60_000)} min: ${report.rotations} rotations, ${report.late_rotations} late, ${report.stuck_rotations} stuck, ${report.health_failures} health failures, RSS ${rssKb} kB, ${fds} fds`);
    }
    const rest = intervalMs - (Date.now() - tick);
    if (rest > 0) await sleep(rest);
  }
  report.elapsed_ms = Date.now() - started;
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  report.rotation_latency_ms = { p50: pct(0.5), p99: pct(0.99), max: sorted.at(-1) ?? 0 };
  await sleep(Math.min(1000, intervalMs)); // let the last SIGHUP arrive
  const end = procStats(helper.pid);
  report.rss_kb.end = end.rssKb;
  report.fds.end = end.fds;
  report.hups = (existsSync(hupLog) ? readFileSync(hupLog, 'utf8').split('\n').filter(Boolean).length : 0) - hupsAtStart;
  report.helper_alive_at_end = !helperExit;

  reader.kill('SIGTERM');
  await readerDone;
  report.reader = JSON.parse(readFileSync(readerOut, 'utf8'));
  const r = report.reader;
  // In the "files" layout a new certificate beside the old key is a documented possibility
  // (README, File layouts); a partial or missing file never is.
  report.reader_anomalies = r.partial + r.missing + (layout === 'atomic_dir' ? r.mismatched : 0);
} finally {
  if (!helperExit) helper.kill('SIGTERM');
  const exited = await Promise.race([helperDone, sleep(10_000).then(() => undefined)]);
  if (!exited) helper.kill('SIGKILL');
  await helperDone;
  report.helper_exit = helperExit;
  await agent.close();
  for (const line of helperStderr.split('\n')) {
    if (/^\S+ WARN /.test(line)) report.helper_warnings++;
    if (/^\S+ ERROR /.test(line)) report.helper_errors++;
  }
  writeFileSync(helperLog, helperStderr);
}

// A late rotation (not on disk within 0.9 interval) is reported; only a stuck one (not within
// 5 s) counts as an anomaly: a busy machine can delay a write, it must never lose one.
report.anomalies =
  report.reader_anomalies +
  report.stuck_rotations +
  report.health_failures +
  report.helper_errors +
  (report.helper_alive_at_end ? 0 : 1) +
  (report.rotations > 0 && report.hups === 0 ? 1 : 0);
const r = report.reader;
log(
  `${report.rotations} rotations in ${(report.elapsed_ms / 1000).toFixed(0)} s (${report.late_rotations} late, ${report.stuck_rotations} stuck; latency p50 ${report.rotation_latency_ms.p50} ms, p99 ${report.rotation_latency_ms.p99} ms, max ${report.rotation_latency_ms.max} ms), ${report.hups} SIGHUPs`,
);
log(`reader: ${r.reads} reads, ${r.distinct} distinct certificates, ${r.partial} partial, ${r.missing} missing, ${r.mismatched} cert/key mismatched${layout === 'files' ? ' (possible in the files layout)' : ''}`);
log(`health: ${report.health_polls} polls, ${report.health_failures} failures; helper log: ${report.helper_warnings} warnings, ${report.helper_errors} errors`);
log(`RSS ${report.rss_kb.start} kB -> ${report.rss_kb.end} kB (max ${report.rss_kb.max} kB); fds ${report.fds.start} -> ${report.fds.end} (range ${report.fds.min}..${report.fds.max})`);
log(`anomalies: ${report.anomalies}`);
if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
if (!opts.keep && report.anomalies === 0) rmSync(dir, { recursive: true, force: true });
else log(`files kept in ${dir} (helper.log, certs/)`);
process.exit(report.anomalies === 0 ? 0 : 1);
