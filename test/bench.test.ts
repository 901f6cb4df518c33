/**
 * The benchmark harness (bench/run.mjs), run once in smoke mode so that it cannot rot: one
 * small iteration of every measurement. Only the shape of its output is checked; figures
 * measured inside a test run mean nothing, so no assertion is about time or memory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(root, 'bench', 'run.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

function tables(markdown: string): Table[] {
  const out: Table[] = [];
  let title = '';
  let current: Table | undefined;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('### ')) title = line.slice(4);
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line
      .trim()
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim());
    if (!current) {
      current = { title, header: cells, rows: [] };
      out.push(current);
    } else if (!cells.every((c) => /^-+$/.test(c))) {
      current.rows.push(cells);
    }
  }
  return out;
}

const MS = /^\d+(\.\d+)? ms$/;
const MIB = /^[+−]?\d+(\.\d+)? MiB$/;

test('npm run bench, smoke mode: every measurement runs and lands in a well-formed table', { timeout: 60_000 }, async () => {
  const dir = tempDir('shbt-');
  const md = join(dir, 'BENCHMARKS.md');
  const json = join(dir, 'results.json');
  const r = await run(['--smoke', '--out', md, '--json', json, '--dir', dir], 55_000);
  assert.equal(r.code, 0, `bench/run.mjs --smoke failed:\n${r.stderr.slice(-4000)}`);
  const text = readFileSync(md, 'utf8');
  assert.ok(text.startsWith(r.stdout), 'the same tables on stdout and in the file (which adds the notes)');
  assert.match(text, /^# Benchmarks/);
  assert.match(text, /\| machine \| .+, \d+ cores/);
  assert.match(text, /\| Node \| v\d+\.\d+\.\d+ \|/);

  for (const t of tables(text)) {
    for (const row of t.rows) assert.equal(row.length, t.header.length, `table "${t.title}": row ${JSON.stringify(row)} has ${row.length} cells, header ${t.header.length}`);
  }
  const byTitle = new Map(tables(r.stdout).map((t) => [t.title, t]));
  for (const title of [
    'Rotation latency',
    'Start-up',
    'Memory',
    'Memory: RSS at each checkpoint',
    'Idle cost',
    'What a pod is charged',
    'Scale: validate and write one response',
    'Start-up profile',
  ]) {
    assert.ok(byTitle.has(title), `no "${title}" table in:\n${text}`);
  }
  const cell = (title: string, rowStart: string, col = 1): string => {
    const row = byTitle.get(title)!.rows.find((x) => x[0]!.startsWith(rowStart));
    assert.ok(row, `table "${title}" has no row "${rowStart}"`);
    return row[col]!;
  };
  for (const p of ['p50', 'p95', 'p99']) assert.match(cell('Rotation latency', p), MS);
  assert.equal(cell('Rotation latency', 'signals not matched'), '0', 'one SIGHUP per rotation, no more');
  assert.match(cell('Start-up', 'one-shot: start'), MS);
  assert.match(cell('Start-up', 'daemon: start'), MS);
  assert.match(cell('Start-up', 'floor: `node -e 0`'), MS);
  assert.match(cell('Memory', 'steady RSS'), MIB);
  assert.match(cell('Memory', 'RSS growth'), MIB);
  assert.match(cell('Idle cost', 'CPU time'), /^\d+ ms$/);
  assert.match(text, /\| environment \| variables that change Node's start-up removed/);
  // Every copy's PSS; the cgroup rows say n/a where no memory cgroup can be created.
  assert.match(cell('What a pod is charged', 'PSS with 2 copies', 2), MIB);
  assert.match(cell('What a pod is charged', 'cgroup: anonymous + kernel', 2), /^(\d+(\.\d+)? MiB|n\/a)$/);
  for (const row of byTitle.get('Scale: validate and write one response')!.rows) assert.match(row[2]!, MS, `scale row ${row[0]}`);
  for (const row of byTitle.get('Start-up profile')!.rows) assert.match(row[1]!, MS, `start-up probe ${row[0]}`);

  const results = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(results.latency.ours.n, 3);
  assert.equal(results.memory.ours.samples.length, 3);
});
