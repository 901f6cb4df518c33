import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';
import { alive, groupMembers, pidsIn } from '../notify/procs.js';

/**
 * No orphans from a wrapped cmd: the real program behind a shell entrypoint, whatever a failing
 * program forked before a restart, and what left the group (a grandchild that calls setsid, a
 * daemon that double-forks, reparented to init) are stopped with it, whether the helper stops,
 * restarts cmd or runs it as a reload command. Checked in /proc.
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
    // The shell too: it holds the helper's stderr open, and this file would never end.
    const leader = cmdPid(run.stderr());
    if (leader && alive(leader)) process.kill(-leader, 'SIGKILL');
  });
  return run;
}

const cmdPid = (stderr: string): number => Number(/cmd started .*pid=(\d+)/.exec(stderr)?.[1]);
/** The log line may reach the pipe after the program has written its pid file. */
const startedCmd = (run: Running): Promise<number> => waitFor('the "cmd started" line', () => cmdPid(run.stderr()));

/**
 * The helper's exit code, once its process has exited. Not its 'close': a leaked process holds
 * the helper's stderr open, and the test would hang instead of failing.
 */
async function exitOf(run: Running): Promise<{ code: number | null; stderr: string }> {
  const code = run.child.exitCode ?? (await new Promise<number | null>((r) => run.child.once('exit', (c) => r(c))));
  // Its last lines may still be in the pipe.
  await Promise.race([run.result, delay(1000)]);
  return { code, stderr: run.stderr() };
}

/** A daemon that double-forks: the middle shell exits, the daemon is in a session of its own. */
const daemon = (pids: string): string => `sh -c 'setsid sleep 1000 & echo $! >> ${pids}'`;

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`${sig}: a shell entrypoint that started the real program leaves no process of its group`, async () => {
    const dir = tempDir();
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const pids = join(dir, 'pids');
    // A non-interactive shell starts background jobs with SIGINT ignored: on SIGINT it is the
    // group's SIGKILL, after the grace period, that ends the real program.
    const run = helper(dir, agent.address, `sleep 1000 & echo $! >> ${pids}; wait`, 'renew_signal = "SIGUSR2"\ncmd_stop_grace_period = "1s"\n');
    const [program] = await waitFor('the real program', () => pidsIn(pids).length > 0 && pidsIn(pids));
    const leader = await startedCmd(run);
    assert.ok(alive(program!) && alive(leader));
    run.child.kill(sig);
    const r = await exitOf(run);
    assert.equal(alive(program!), false, `the real program ${program} outlived the helper:\n${r.stderr}`);
    assert.deepEqual(groupMembers(leader), [], 'no process of the group remains');
    assert.equal(r.code, sig === 'SIGTERM' ? 143 : 130, `the shell's exit code: ${r.stderr}`);
  });
}

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

const restartCases = [
  {
    name: '"on-failure": a failing program that forked two workers',
    script: (p: string) => `sleep 1000 & echo $! >> ${p}; sleep 1000 & echo $! >> ${p}; sleep 0.2; exit 1`,
    extra: 'renew_signal = "SIGUSR2"\ncmd_restart_policy = "on-failure"\n',
    // Three runs; only the current run's processes may be alive.
    pids: 6,
    current: 2,
  },
  {
    name: '"always": a cmd that daemonizes and exits at once',
    script: (p: string) => `${daemon(p)}; exit 0`,
    extra: 'renew_signal = "SIGHUP"\ncmd_restart_policy = "always"\ncmd_stop_grace_period = "2s"\n',
    pids: 3,
    current: 1,
  },
];
for (const c of restartCases) {
  test(`cmd_restart_policy = ${c.name}: each restart stops what the previous run left`, async () => {
    const dir = tempDir();
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const pids = join(dir, 'pids');
    const run = helper(dir, agent.address, c.script(pids), c.extra);
    try {
      await waitFor('three runs', () => pidsIn(pids).length >= c.pids, 30_000);
      const running = pidsIn(pids).filter(alive);
      assert.ok(running.length <= c.current, `${running.length} of ${pidsIn(pids).length} still run: ${running}`);
      assert.match(run.stderr(), /cmd exited and left processes behind; stopping them/);
    } finally {
      run.child.kill('SIGTERM');
      await exitOf(run);
    }
    assert.deepEqual(pidsIn(pids).filter(alive), [], 'nothing outlives the helper');
  });
}

const reloadCases = [
  { name: 'a background process', script: (p: string) => `sleep 1000 & echo $! >> ${p}; exit 0` },
  { name: 'a double-forked daemon', script: (p: string) => `${daemon(p)}; exit 0` },
];
for (const c of reloadCases) {
  test(`reload command (cmd without renew_signal) that starts ${c.name}: stopped once the command exits`, async () => {
    const dir = tempDir();
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const pids = join(dir, 'pids');
    const run = helper(dir, agent.address, c.script(pids), '');
    try {
      await waitFor('the reload command to finish', () => /reload command finished/.test(run.stderr()));
      assert.equal(pidsIn(pids).length, 1);
      assert.deepEqual(pidsIn(pids).filter(alive), [], run.stderr());
    } finally {
      run.child.kill('SIGTERM');
      await exitOf(run);
    }
  });
}

test('a program and a grandchild that ignore the stop signal are SIGKILLed as a group after cmd_stop_grace_period', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const pids = join(dir, 'pids');
  const run = helper(dir, agent.address, `trap "" TERM; sleep 1000 & echo $! >> ${pids}; wait`, 'renew_signal = "SIGUSR2"\ncmd_stop_grace_period = "500ms"\n');
  const [program] = await waitFor('the real program', () => pidsIn(pids).length > 0 && pidsIn(pids));
  const leader = await startedCmd(run);
  run.child.kill('SIGTERM');
  const r = await exitOf(run);
  assert.match(r.stderr, /cmd did not stop in time; killing its process group/);
  assert.equal(alive(program!), false);
  assert.deepEqual(groupMembers(leader), []);
  assert.equal(r.code, 137, 'the program was killed by SIGKILL');
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
