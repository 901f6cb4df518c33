/**
 * A probe never takes the helper down: checks that the disk answers with an error other than
 * "no such file" (a symlink loop, a path through a file, no permission) are "not live/not
 * ready", not an exception in the request handler, which would crash the helper.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startHealthServer } from '../../src/health/listener.js';
import { HealthState } from '../../src/health/state.js';
import { createLogger } from '../../src/log.js';
import { startCli, writeConfig } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const HEALTH = `[health_checks]\nlistener_enabled = true\nbind_port = 0\n`;

const faults: { name: string; change: (certs: string, dir: string) => void }[] = [
  { name: 'cert_dir replaced by a symlink to itself (ELOOP)', change: (c) => (rmSync(c, { recursive: true }), symlinkSync('certs', c)) },
  {
    name: 'cert_dir replaced by a symlink through a file (ENOTDIR)',
    change: (c, dir) => (renameSync(c, join(dir, 'moved')), writeFileSync(join(dir, 'file'), 'x'), symlinkSync(join(dir, 'file', 'certs'), c)),
  },
];

for (const c of faults) {
  test(`probes: ${c.name} is 503 on /live and /ready, and the helper keeps running`, async () => {
    const dir = tempDir();
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const run = startCli(['--config', writeConfig(dir, agent.address, HEALTH)]);
    try {
      const m = await waitFor('the health listener to start', () => /health listener started address=[\d.]+:(\d+)/.exec(run.stderr()));
      const url = `http://127.0.0.1:${m[1]}`;
      await waitFor('ready', async () => (await fetch(`${url}/ready`)).status === 200);
      c.change(join(dir, 'certs'), dir);
      for (const path of ['/live', '/ready']) {
        const res = await fetch(`${url}${path}`).catch((e: Error) => e);
        assert.ok(!(res instanceof Error), `${path}: ${String(res)}; ${run.stderr()}`);
        assert.equal(res.status, 503, path);
      }
      assert.equal(run.child.exitCode, null, run.stderr());
      assert.doesNotMatch(run.stderr(), /crashed/);
    } finally {
      run.child.kill('SIGTERM');
      await run.result;
    }
  });
}

test('probes: an answer that throws (the disk or /proc failing under descriptor exhaustion) is a 500, logged, and the listener keeps serving', async () => {
  const state = new HealthState({ certDir: tempDir(), x509: false, jwtFiles: [] });
  // A fault no real disk produces on demand: the state's report fails once.
  const report = state.report.bind(state);
  let fail = true;
  state.report = (...args) => {
    if (!fail) return report(...args);
    fail = false;
    throw Object.assign(new Error('EMFILE: too many open files, open /proc/self/stat'), { code: 'EMFILE' });
  };
  const logged: string[] = [];
  const server = await startHealthServer(
    { enabled: true, bindAddress: '127.0.0.1', port: 0, livenessPath: '/live', readinessPath: '/ready', metricsEnabled: false },
    state,
    createLogger({ write: (l) => logged.push(l) }),
  );
  try {
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/live`;
    assert.equal((await fetch(url)).status, 500);
    assert.match(logged.join('\n'), /ERROR health request failed path=\/live error="EMFILE: too many open files/);
    assert.equal((await fetch(url)).status, 200);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('/metrics out of descriptors (EMFILE) still renders, without the process families that need one', () => {
  // A real exhaustion, in a child limited to 64 descriptors: reading RSS opens /proc/self/stat.
  const code = `import { openSync } from 'node:fs'; import { Metrics } from ${JSON.stringify(new URL('../../src/metrics.ts', import.meta.url).href)};
    const m = new Metrics(); try { for (;;) openSync('/dev/null', 'r'); } catch {} process.stdout.write(m.render());`;
  const r = spawnSync('prlimit', ['--nofile=64:64', process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^spiffe_helper_rotations_total 0$/m);
  assert.match(r.stdout, /^process_cpu_seconds_total /m);
  assert.doesNotMatch(r.stdout, /^process_open_fds /m);
});
