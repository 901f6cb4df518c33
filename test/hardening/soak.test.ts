/**
 * The short soak: scripts/soak.mjs for 60 s (SOAK_SECONDS to change it) in the atomic_dir layout,
 * one rotation per second, with a wrapped child, a concurrent reader and health polling. The long
 * one is `node scripts/soak.mjs --minutes 60`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scope } from './lib.js';

const script = fileURLToPath(new URL('../../scripts/soak.mjs', import.meta.url));
const seconds = Number(process.env.SOAK_SECONDS ?? 60);

test(`soak ${seconds} s: zero anomalies, stable descriptors, bounded memory`, { timeout: (seconds + 90) * 1000 }, async () => {
  const s = scope('shk-');
  const out = join(s.dir, 'report.json');
  const child = spawn(process.execPath, [script, '--seconds', String(seconds), '--layout', 'atomic_dir', '--json', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  s.defer(() => child.kill('SIGTERM'));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  for (const line of output.split('\n').filter((l) => l.startsWith('# '))) console.log(line);
  assert.equal(code, 0, output);
  const report = JSON.parse(readFileSync(out, 'utf8'));
  const r = report.reader;
  console.log(
    `# soak short: ${report.rotations} rotations (latency p50 ${report.rotation_latency_ms.p50} ms, p99 ${report.rotation_latency_ms.p99} ms), ${report.reader_anomalies} reader anomalies, ${report.health_failures} health failures, RSS ${report.rss_kb.start}->${report.rss_kb.end} kB, fds ${report.fds.start}->${report.fds.end}`,
  );
  assert.equal(report.anomalies, 0);
  assert.ok(report.rotations >= seconds * 0.9, `rotations: ${report.rotations}`);
  assert.equal(report.stuck_rotations, 0, 'every rotation on disk within 5 s');
  assert.ok(report.late_rotations <= Math.max(1, report.rotations * 0.02), `rotations not on disk within 0.9 s: ${report.late_rotations}`);
  assert.ok(report.hups >= report.rotations - 2 && report.hups <= report.rotations, `SIGHUPs ${report.hups} for ${report.rotations} rotations`);
  assert.equal(r.partial, 0, 'never a partial file');
  assert.equal(r.missing, 0, 'never a missing file');
  assert.equal(r.mismatched, 0, 'atomic_dir: never a certificate beside the wrong key');
  assert.ok(r.distinct >= report.rotations * 0.5, `the reader saw ${r.distinct} certificates`);
  assert.equal(report.health_failures, 0);
  assert.equal(report.helper_errors, 0);
  assert.ok(report.helper_alive_at_end);
  assert.ok(Math.abs(report.fds.end - report.fds.start) <= 4, `fds ${report.fds.start} -> ${report.fds.end}`);
  assert.ok(report.fds.max - report.fds.min <= 6, `fds ranged ${report.fds.min}..${report.fds.max}`);
  assert.ok(report.rss_kb.end - report.rss_kb.start < 30_000, `RSS grew ${report.rss_kb.start} -> ${report.rss_kb.end} kB`);
});
