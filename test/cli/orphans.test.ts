import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';
import { alive, pidsIn } from '../notify/procs.js';

/**
 * No orphans from what left cmd's process group: a grandchild that calls setsid, a daemon that
 * double-forks (reparented to init), whether the helper stops, restarts cmd or runs it as a
 * reload command. Before: each of them outlived the helper. Checked in /proc.
 */
function helper(dir: string, address: string, script: string, extra: string): Running {
  const cmd = `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(script)}]\n${extra}`;
  const run = startCli(['--config', writeConfig(dir, address, cmd)]);
  // A failing test must not leave the helper or its leaks running.
  after(() => {
    run.child.kill('SIGKILL');
    pidsIn(join(dir, 'pids'))
      .filter(alive)
      .forEach((p) => process.kill(p, 'SIGKILL'));
  });
  return run;
}

/** The helper's exit code once its process has exited (a leak may hold its stderr open). */
async function exitOf(run: Running): Promise<{ code: number | null; stderr: string }> {
  const code = run.child.exitCode ?? (await new Promise<number | null>((r) => run.child.once('exit', (c) => r(c))));
  await Promise.race([run.result, delay(1000)]);
  return { code, stderr: run.stderr() };
}

/** A daemon that double-forks: the middle shell exits, the daemon is in a session of its own. */
const daemon = (pids: string): string => `sh -c 'setsid sleep 1000 & echo $! >> ${pids}'`;

const stopCases = [
  { name: 'a grandchild that calls setsid (its parent stays in the group)', script: (p: string) => `setsid sleep 1000 & echo $! >> ${p}; wait` },
  { name: 'a daemon that double-forked out of the session', script: (p: string) => `${daemon(p)}; sleep 1000 & echo $! >> ${p}; wait` },
];
for (const c of stopCases) {
  test(`SIGTERM: nothing outlives the helper: ${c.name}`, async () => {
    const dir = tempDir();
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const pids = join(dir, 'pids');
    const run = helper(dir, agent.address, c.script(pids), 'renew_signal = "SIGUSR2"\ncmd_stop_grace_period = "2s"\n');
    const started = await waitFor('the processes', () => pidsIn(pids).length > 0 && pidsIn(pids));
    assert.ok(started.every(alive));
    run.child.kill('SIGTERM');
    const r = await exitOf(run);
    assert.deepEqual(pidsIn(pids).filter(alive), [], r.stderr);
    assert.equal(r.code, 143, r.stderr);
  });
}

test('cmd that daemonizes and exits 0 (nginx without `daemon off`): the helper exits 0 and takes the daemon with it', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const pids = join(dir, 'pids');
  const run = helper(dir, agent.address, `${daemon(pids)}; exit 0`, 'renew_signal = "SIGHUP"\ncmd_stop_grace_period = "2s"\n');
  const r = await exitOf(run);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /cmd exited and left processes behind; stopping them/);
  assert.equal(pidsIn(pids).length, 1);
  assert.deepEqual(pidsIn(pids).filter(alive), []);
});

test('cmd_restart_policy = "always", a cmd that daemonizes and exits at once: each restart stops the previous daemon', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const pids = join(dir, 'pids');
  const run = helper(dir, agent.address, `${daemon(pids)}; exit 0`, 'renew_signal = "SIGHUP"\ncmd_restart_policy = "always"\ncmd_stop_grace_period = "2s"\n');
  try {
    await waitFor('three runs', () => pidsIn(pids).length >= 3, 30_000);
    const running = pidsIn(pids).filter(alive);
    assert.ok(running.length <= 1, `${running.length} daemons run: ${running}`);
  } finally {
    run.child.kill('SIGTERM');
    await exitOf(run);
  }
  assert.deepEqual(pidsIn(pids).filter(alive), [], 'nothing outlives the helper');
});

test('reload command (no renew_signal) that starts a double-forked daemon: stopped once the command exits', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const pids = join(dir, 'pids');
  const run = helper(dir, agent.address, `${daemon(pids)}; exit 0`, '');
  try {
    await waitFor('the reload command to finish', () => /reload command finished/.test(run.stderr()));
    assert.equal(pidsIn(pids).length, 1);
    assert.deepEqual(pidsIn(pids).filter(alive), [], run.stderr());
  } finally {
    run.child.kill('SIGTERM');
    await exitOf(run);
  }
});

test('a second and third stop signal during the grace period: the helper still waits for the group, then SIGKILLs it', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const pids = join(dir, 'pids');
  const run = helper(dir, agent.address, `trap "" TERM INT; echo $$ >> ${pids}; sleep 1000 & echo $! >> ${pids}; wait`, 'renew_signal = "SIGUSR2"\ncmd_stop_grace_period = "2s"\n');
  await waitFor('the processes', () => pidsIn(pids).length === 2);
  run.child.kill('SIGTERM');
  run.child.kill('SIGINT');
  run.child.kill('SIGTERM');
  const r = await exitOf(run);
  assert.match(r.stderr, /cmd did not stop in time; killing its process group/);
  assert.equal(r.code, 137, r.stderr);
  assert.deepEqual(pidsIn(pids).filter(alive), []);
});
