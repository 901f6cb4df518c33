import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { Child } from '../../src/notify/child.js';
import { newMark } from '../../src/notify/process-group.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { alive, groupMembers, pidsIn } from './procs.js';

function logger() {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (l) => lines.push(l) }) };
}

/** `sh -c script`; the script appends the pids of what it starts in the background to $PIDS. */
async function shell(script: string, pidsFile: string) {
  const { lines: logLines, log } = logger();
  process.env.PIDS = pidsFile;
  const child = await Child.start('sh', ['-c', script], log);
  return { child, lines: logLines };
}

test('a wrapped program runs in a process group of its own, with what it starts', async () => {
  const dir = tempDir();
  const { child } = await shell('sleep 1000 & echo $! >> "$PIDS"; wait', join(dir, 'pids'));
  const [grandchild] = await waitFor('the grandchild', () => pidsIn(join(dir, 'pids')).length > 0 && pidsIn(join(dir, 'pids')));
  assert.deepEqual(groupMembers(child.pid).sort(), [child.pid, grandchild].sort());
  await child.stop('SIGTERM', 5000);
});

const stopCases = [
  { name: 'shell entrypoint that waits for its grandchild', script: 'sleep 1000 & echo $! >> "$PIDS"; wait', killed: false },
  { name: 'shell entrypoint that execs nothing and loops', script: 'sleep 1000 & echo $! >> "$PIDS"; while :; do sleep 0.05; done', killed: false },
  // TERM ignored by the shell and (inherited) by the grandchild: only SIGKILL ends them.
  { name: 'group that ignores the stop signal', script: 'trap "" TERM; sleep 1000 & echo $! >> "$PIDS"; wait', killed: true },
  // The leader obeys at once, the grandchild ignores TERM: the group, not the leader, decides.
  // (The grandchild writes its pid once TERM is ignored, so the test cannot signal it earlier.)
  { name: 'leader exits at once, grandchild ignores the stop signal', script: 'sh -c \'trap "" TERM; echo $$ >> "$PIDS"; exec sleep 1000\' & wait', killed: true },
  // Out of the group: found by the mark in their environment (before: left running).
  { name: 'grandchild that calls setsid, leaving the group', script: 'setsid sleep 1000 & echo $! >> "$PIDS"; wait', killed: false },
  { name: 'daemon that double-forks out of the session, leader already gone', script: 'sh -c \'setsid sleep 1000 & echo $! >> "$PIDS"\'; wait', killed: false },
  { name: 'grandchild out of the group that ignores the stop signal', script: 'sh -c \'trap "" TERM; echo $$ >> "$PIDS"; exec setsid sleep 1000\' & wait', killed: true },
  // Processes leave the group all the time, so some leave it while the stop looks for the ones
  // that left (before: missed by the look and by the group's signal, left for SIGKILL).
  { name: 'a loop of grandchildren that call setsid while the stop runs', script: 'while :; do setsid sleep 1000 & echo $! >> "$PIDS"; done', killed: false },
];

for (const c of stopCases) {
  test(`stop leaves no process of the group: ${c.name}`, async () => {
    const dir = tempDir();
    const { child, lines } = await shell(c.script, join(dir, 'pids'));
    const [grandchild] = await waitFor('the grandchild', () => pidsIn(join(dir, 'pids')).length > 0 && pidsIn(join(dir, 'pids')));
    // A group that obeys gets a long grace: it ends as soon as the group is gone, and a loaded
    // machine must not turn a slow exit into a SIGKILL the case says is not needed.
    const status = await child.stop('SIGTERM', c.killed ? 300 : 10_000);
    assert.equal(alive(grandchild!), false, `grandchild ${grandchild} still runs`);
    assert.deepEqual(groupMembers(child.pid), [], 'no process of the group remains');
    assert.equal(
      lines.some((l) => /killing its process group/.test(l)),
      c.killed,
      lines.join('\n'),
    );
    if (c.killed && c.name.startsWith('group')) assert.equal(status.signal, 'SIGKILL');
  });
}

test('a program that exits on its own: stopLeftovers stops what it left in its group', async () => {
  const dir = tempDir();
  const { child, lines } = await shell('sleep 1000 & echo $! >> "$PIDS"; exit 3', join(dir, 'pids'));
  const status = await child.exited;
  const [grandchild] = pidsIn(join(dir, 'pids'));
  assert.equal(status.code, 3);
  assert.ok(alive(grandchild!), 'the leftover runs until the helper stops it');
  await child.stopLeftovers(5000);
  assert.equal(alive(grandchild!), false);
  assert.deepEqual(groupMembers(child.pid), []);
  assert.match(lines.join('\n'), /cmd exited and left processes behind; stopping them .*pids=\d+/);
});

test('a program that exits on its own: stopLeftovers stops the daemon it double-forked out of its session', async () => {
  const dir = tempDir();
  // nginx without `daemon off`: the program forks a daemon that calls setsid, and exits 0.
  const { child, lines } = await shell('sh -c \'setsid sleep 1000 & echo $! >> "$PIDS"\'; exit 0', join(dir, 'pids'));
  await child.exited;
  const [daemon] = pidsIn(join(dir, 'pids'));
  assert.ok(alive(daemon!), 'the daemon runs until the helper stops it');
  await child.stopLeftovers(5000);
  assert.equal(alive(daemon!), false, `daemon ${daemon} still runs`);
  assert.match(lines.join('\n'), new RegExp(`cmd exited and left processes behind; stopping them .*pids=${daemon}`));
});

test("a helper wrapped by another helper adds its mark to the outer one's, so the outer still finds what escapes", async () => {
  const outer = newMark();
  const [name, value] = outer.split('=') as [string, string];
  process.env[name] = value;
  const { child } = await shell('exec sleep 1000', '/dev/null');
  try {
    // Until the exec, /proc shows the environment the process was forked with (seen in a loaded run).
    const environ = await waitFor(
      'the exec of sleep',
      () => readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep\0') && readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0'),
    );
    assert.ok(environ.includes(outer), 'the outer mark is kept');
    assert.equal(environ.filter((e) => e.startsWith('SPIFFE_HELPER_PROCESS_TREE')).length, 2, environ.filter((e) => e.startsWith('SPIFFE')).join(' '));
  } finally {
    // A failed assertion must not leave the program running: this file would never end.
    await child.stop('SIGTERM', 2000);
    delete process.env[name];
  }
});

test('a program that leaves nothing behind: stopLeftovers does nothing and says nothing', async () => {
  const { child, lines } = await shell('exit 0', '/dev/null');
  await child.stopLeftovers(5000);
  assert.deepEqual(lines, []);
});

test('signalGroup reaches the grandchild; signal reaches the program only', async () => {
  const dir = tempDir();
  const got = join(dir, 'got');
  const script = `trap 'echo leader >> ${got}' USR1; (trap 'echo grandchild >> ${got}' USR1; echo $$ >> "$PIDS"; while :; do sleep 0.05; done) & while :; do sleep 0.05; done`;
  const { child } = await shell(script, join(dir, 'pids'));
  await waitFor('the grandchild', () => pidsIn(join(dir, 'pids')).length > 0);
  child.signal('SIGUSR1');
  await waitFor('the leader to get SIGUSR1', () => lines(got).includes('leader'));
  child.signalGroup('SIGUSR1');
  await waitFor('both to get SIGUSR1', () => lines(got).length === 3);
  assert.deepEqual(lines(got).slice(1).sort(), ['grandchild', 'leader'], 'the first signal reached the leader only');
  await child.stop('SIGTERM', 2000);
});

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

for (const [name, program] of [
  ['its group', 'sleep 1000 &'],
  ['a grandchild that left the group (setsid)', 'setsid sleep 1000 &'],
] as const) {
  test(`a helper that dies of an uncaught error still takes down ${name} (exit hook)`, () => exitHook(program));
}

async function exitHook(program: string): Promise<void> {
  const dir = tempDir();
  const pids = join(dir, 'pids');
  const script = `
    import { Child } from ${JSON.stringify(new URL('../../src/notify/child.ts', import.meta.url).pathname)};
    import { createLogger } from ${JSON.stringify(new URL('../../src/log.ts', import.meta.url).pathname)};
    await Child.start('sh', ['-c', '${program} echo $! >> ${pids}; wait'], createLogger());
    // The pid, not just the file: the shell creates the file before echo writes to it.
    const { existsSync, readFileSync } = await import('node:fs');
    while (!(existsSync(${JSON.stringify(pids)}) && readFileSync(${JSON.stringify(pids)}, 'utf8').endsWith('\\n'))) await new Promise((r) => setTimeout(r, 10));
    throw new Error('boom');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(r.status, 0, 'the script died of its error');
  assert.match(r.stderr, /boom/);
  const [grandchild] = pidsIn(pids);
  assert.ok(grandchild, r.stderr);
  await waitFor('the grandchild to be gone', () => !alive(grandchild!), 5000);
}
