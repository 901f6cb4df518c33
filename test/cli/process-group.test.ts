import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';
import { alive, groupMembers, pidsIn } from '../notify/procs.js';

/**
 * No orphans from a wrapped cmd: the real program behind a shell entrypoint, and whatever a
 * failing program forked before a restart, are stopped with it. Checked in /proc.
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

test('cmd_restart_policy = "on-failure": restarts leak none of the workers a failing program forked', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const pids = join(dir, 'pids');
  // Each run forks two workers and fails.
  const run = helper(dir, agent.address, `sleep 1000 & echo $! >> ${pids}; sleep 1000 & echo $! >> ${pids}; sleep 0.2; exit 1`, 'renew_signal = "SIGUSR2"\ncmd_restart_policy = "on-failure"\n');
  try {
    await waitFor('three runs', () => pidsIn(pids).length >= 6, 20_000);
    const workers = pidsIn(pids);
    const running = workers.filter(alive);
    // Only the current run's workers may be alive.
    assert.ok(running.length <= 2, `${running.length} of ${workers.length} workers still run: ${running}`);
    assert.match(run.stderr(), /cmd exited and left processes behind; stopping them/);
  } finally {
    run.child.kill('SIGTERM');
    await exitOf(run);
  }
  assert.deepEqual(pidsIn(pids).filter(alive), [], 'nothing outlives the helper');
});

test('reload command (cmd without renew_signal): what it starts in the background is stopped once it exits', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const pids = join(dir, 'pids');
  const run = helper(dir, agent.address, `sleep 1000 & echo $! >> ${pids}; exit 0`, '');
  try {
    await waitFor('the reload command to finish', () => /reload command finished/.test(run.stderr()));
    const [background] = pidsIn(pids);
    assert.equal(alive(background!), false, `the reload command's background process ${background} still runs`);
  } finally {
    run.child.kill('SIGTERM');
    await exitOf(run);
  }
});

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
