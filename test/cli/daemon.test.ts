import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';

/** The serial of the certificate in svid.pem right now, or '' while there is none. */
const serialIn = (dir: string): string => {
  try {
    return new X509Certificate(readFileSync(join(dir, 'certs', 'svid.pem'))).serialNumber;
  } catch {
    return '';
  }
};
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
/**
 * How many times the helper has logged `msg`. svid.pem is renamed in first: "x509 svid written"
 * comes once the whole set is in place, so a test that goes on to the other files waits for it.
 */
const logged = (run: Running, msg: string): number => run.stderr().split(msg).length - 1;

/** A child that logs its start, and on SIGHUP the serial of the svid.pem it sees then. */
const recorderScript = (dir: string) => `
echo "start $$" >> ${dir}/child.log
trap 'openssl x509 -in ${dir}/certs/svid.pem -noout -serial | cut -d= -f2 >> ${dir}/hup.log' HUP
trap 'echo term >> ${dir}/child.log; exit 42' TERM
while :; do sleep 0.05; done`;

function helper(dir: string, address: string, extra: string): Running {
  return startCli(['--config', writeConfig(dir, address, extra)]);
}

async function stopHelper(run: Running, sig: NodeJS.Signals = 'SIGTERM') {
  run.child.kill(sig);
  return run.result;
}

test('rotations replace the files and SIGHUP the child, which always sees the new certificate', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 2 });
  const run = helper(dir, agent.address, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(recorderScript(dir))}]\nrenew_signal = "SIGHUP"\n`);
  try {
    const seen: string[] = [];
    await waitFor(
      '4 distinct certificates on disk',
      () => {
        const s = serialIn(dir);
        if (s && s !== seen[seen.length - 1]) seen.push(s);
        return seen.length >= 4;
      },
      20_000,
    );
    await waitFor('the child to record 3 SIGHUPs', () => lines(join(dir, 'hup.log')).length >= 3);
    const hups = lines(join(dir, 'hup.log'));
    // Each SIGHUP came after its rotation's files were in place: the child saw a rotated
    // certificate (never the first one) and never the same one twice.
    assert.equal(new Set(hups).size, hups.length, `duplicate serials seen by the child: ${hups}`);
    for (const s of hups) assert.ok(seen.includes(s) && s !== seen[0], `child saw ${s}; helper wrote ${seen}`);
    assert.equal(lines(join(dir, 'child.log')).filter((l) => l.startsWith('start')).length, 1, 'the child is launched exactly once');
  } finally {
    const r = await stopHelper(run);
    assert.equal(r.code, 42, `SIGTERM is forwarded and the child's exit code (42) propagates: ${r.stderr}`);
    assert.deepEqual(lines(join(dir, 'child.log')).slice(-1), ['term']);
  }
});

test('a duplicate message rewrites nothing and signals nobody', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = helper(dir, agent.address, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(recorderScript(dir))}]\nrenew_signal = "SIGHUP"\n`);
  try {
    await waitFor('the child to start', () => lines(join(dir, 'child.log')).length === 1);
    const before = statSync(join(dir, 'certs', 'svid.pem'));
    for (let i = 0; i < 5; i++) agent.pushX509(agent.current()!);
    await delay(1000);
    const after = statSync(join(dir, 'certs', 'svid.pem'));
    assert.equal(after.ino, before.ino, 'svid.pem was not replaced');
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.deepEqual(lines(join(dir, 'hup.log')), [], 'no SIGHUP was sent');
    await agent.rotate();
    await waitFor('a real rotation to signal the child', () => lines(join(dir, 'hup.log')).length === 1);
  } finally {
    await stopHelper(run);
  }
});

test('SIGHUP, SIGUSR1 and SIGUSR2 sent to the helper reach the wrapped child', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const script = `echo up > ${dir}/up; for s in HUP USR1 USR2; do trap "echo $s >> ${dir}/sig.log" $s; done; while :; do sleep 0.05; done`;
  const run = helper(dir, agent.address, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(script)}]\nrenew_signal = "SIGUSR2"\n`);
  try {
    await waitFor('the child to start', () => existsSync(join(dir, 'up')));
    for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) {
      run.child.kill(sig);
      await waitFor(`${sig} to reach the child`, () => lines(join(dir, 'sig.log')).includes(sig.slice(3)));
    }
  } finally {
    const r = await stopHelper(run);
    assert.equal(r.code, 143, 'the child died of the forwarded SIGTERM: 128+15');
  }
});

test('when the child exits on its own the helper exits with its code', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = helper(dir, agent.address, `cmd = "sh"\ncmd_args = ["-c", "sleep 0.3; exit 3"]\nrenew_signal = "SIGHUP"\n`);
  const r = await run.result;
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /wrapped cmd exited; helper exits with its code exit_code=3/);
});

test('cmd_restart_policy = "on-failure" restarts a failing child with backoff', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  // Fails the first time, then runs until stopped.
  const script = `echo start >> ${dir}/child.log; [ -e ${dir}/ran ] || { touch ${dir}/ran; exit 1; }; trap 'exit 0' TERM; while :; do sleep 0.05; done`;
  const run = helper(dir, agent.address, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(script)}]\nrenew_signal = "SIGHUP"\ncmd_restart_policy = "on-failure"\n`);
  await waitFor('the child to be started twice', () => lines(join(dir, 'child.log')).length === 2);
  await delay(300);
  assert.equal(run.child.exitCode, null, 'the helper is still running');
  const r = await stopHelper(run);
  assert.equal(r.code, 0, 'the restarted child exited 0 on SIGTERM');
  assert.match(r.stderr, /cmd exited .*status="exit code 1" policy=on-failure/);
});

// A short-lived cmd with renew_signal (configs written for the Go helper 0.9.x, Go issue #246):
// started again at each rotation while the helper keeps going. The Go behaviour, for a Go (HCL)
// config by default and for TOML with cmd_restart_policy = "next-rotation".
for (const [dialect, policy] of [
  ['HCL (Go config, by default)', ''],
  ['TOML', 'cmd_restart_policy = "next-rotation"\n'],
] as const) {
  test(`${dialect}: a cmd that exits is started again at each rotation and the helper keeps going`, async () => {
    const dir = tempDir();
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const script = join(dir, 'append.sh');
    writeFileSync(script, `#!/bin/sh\nopenssl x509 -in ${dir}/certs/svid.pem -noout -serial >> ${dir}/child.log\n`, { mode: 0o755 });
    // `0644` is not TOML: that file is read as the Go helper's HCL.
    const run = helper(dir, agent.address, `cmd = "${script}"\nrenew_signal = "SIGHUP"\n${policy || 'cert_file_mode = 0644\n'}`);
    try {
      await waitFor('the first run', () => lines(join(dir, 'child.log')).length === 1);
      for (const n of [2, 3]) {
        // A rotation while the run still exits (its line written) would signal it, not start one.
        await waitFor(`run ${n - 1} to end`, () => logged(run, 'cmd will be started again at the next rotation') === n - 1);
        await delay(300);
        assert.equal(lines(join(dir, 'child.log')).length, n - 1, 'not restarted before a rotation');
        await agent.rotate();
        await waitFor(`run ${n}, after rotation ${n - 1}`, () => lines(join(dir, 'child.log')).length === n);
      }
      const serials = lines(join(dir, 'child.log'));
      assert.equal(new Set(serials).size, 3, `each run saw its rotation's certificate: ${serials}`);
      // Stopped while still running, the third run would give the helper its exit code (143).
      await waitFor('run 3 to end', () => logged(run, 'cmd will be started again at the next rotation') === 3);
      assert.equal(run.child.exitCode, null, 'the helper is still running');
    } finally {
      const r = await stopHelper(run);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /cmd will be started again at the next rotation/);
      if (!policy) assert.match(r.stderr, /dialect=hcl/);
    }
  });
}

test('ownership across rotations: a key chowned to uid 70 stays 70 with its mode; file_owner / file_group set the others', { skip: process.getuid?.() !== 0 && 'needs root (chown)' }, async () => {
  const { chownSync } = await import('node:fs');
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = helper(dir, agent.address, 'file_group = "71"\n');
  const owner = (f: string) => {
    const st = statSync(join(dir, 'certs', f));
    return `${st.uid}:${st.gid}:${(st.mode & 0o777).toString(8)}`;
  };
  try {
    await waitFor('the first files', () => logged(run, 'x509 svid written') === 1);
    assert.equal(owner('svid.pem'), '0:71:644', 'file_group applies to a created file');
    chownSync(join(dir, 'certs', 'svid_key.pem'), 70, 70);
    const first = serialIn(dir);
    await agent.rotate();
    await waitFor('a rotation', () => logged(run, 'x509 svid written') === 2);
    assert.notEqual(serialIn(dir), first);
    assert.equal(owner('svid_key.pem'), '70:71:600', 'the owner given by the operator is kept, the configured group applied, the mode kept');
    assert.equal(owner('svid.pem'), '0:71:644');
  } finally {
    await stopHelper(run);
  }
});

test('file_owner / file_group: names and ids are read, an unknown name is a config error naming the key', async () => {
  const { parseConfig } = await import('../../src/config/load.js');
  const base = 'cert_dir = "c"\nsvid_file_name = "a"\nsvid_key_file_name = "b"\nsvid_bundle_file_name = "d"\n';
  assert.deepEqual(parseConfig(`${base}file_owner = "root"\nfile_group = 71\n`, 'helper.conf', {}).fileOwnership, { uid: 0, gid: 71 });
  assert.deepEqual(parseConfig(base, 'helper.conf', {}).fileOwnership, { uid: undefined, gid: undefined });
  assert.throws(
    () => parseConfig(`${base}file_owner = "no-such-user-here"\n`, 'helper.conf', {}),
    /helper\.conf:5: file_owner: no user named "no-such-user-here" in \/etc\/passwd; give the numeric id instead/,
  );
  assert.throws(() => parseConfig(`${base}file_group = true\n`, 'helper.conf', {}), /file_group: must be a group name or a numeric id, got boolean/);
});

test('without renew_signal, cmd is a reload command run once per rotation', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const script = `openssl x509 -in ${dir}/certs/svid.pem -noout -serial >> ${dir}/reload.log; exit 7`;
  const run = helper(dir, agent.address, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(script)}]\n`);
  try {
    await waitFor('the first reload', () => lines(join(dir, 'reload.log')).length === 1);
    for (let i = 2; i <= 3; i++) {
      await agent.rotate();
      await waitFor(`reload ${i}`, () => lines(join(dir, 'reload.log')).length === i);
    }
    await delay(300);
    const runs = lines(join(dir, 'reload.log'));
    assert.equal(runs.length, 3, 'exactly one run per rotation');
    assert.equal(new Set(runs).size, 3, 'each run saw a new certificate');
    assert.equal(run.child.exitCode, null, 'a failing reload command never ends the helper');
  } finally {
    const r = await stopHelper(run);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /reload command finished .*status="exit code 7"/);
  }
});

test('pid_file_name: a pid file that appears late still gets the signal, without holding up rotations', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const target = spawn('sh', ['-c', `trap 'echo hup >> ${dir}/pid-hup.log' HUP; while :; do sleep 0.05; done`], { stdio: 'ignore' });
  const pidFile = join(dir, 'app.pid');
  const run = helper(dir, agent.address, `pid_file_name = "${pidFile}"\nrenew_signal = "SIGHUP"\n`);
  try {
    await waitFor('the first write', () => serialIn(dir));
    await waitFor('a retry on the missing pid file', () => /pid file does not exist/.test(run.stderr()));
    await agent.rotate();
    const second = await waitFor('a second rotation despite the missing pid file', () => {
      const s = serialIn(dir);
      return s && /x509 svid written[^\n]*\n[^]*x509 svid written/.test(run.stderr()) ? s : '';
    });
    assert.ok(second);
    writeFileSync(pidFile, `${target.pid}\n`);
    await waitFor('the process in the pid file to get SIGHUP', () => lines(join(dir, 'pid-hup.log')).length >= 1, 15_000);
    writeFileSync(pidFile, '999999\n');
    await agent.rotate();
    await waitFor('a stale pid to be reported', () => /stale pid file/.test(run.stderr()));
  } finally {
    target.kill('SIGKILL');
    const r = await stopHelper(run);
    assert.equal(r.code, 0, r.stderr);
  }
});

test('SIGTERM with no child stops the daemon with exit 0 within a few seconds', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = helper(dir, agent.address, '');
  // The whole set, not only svid.pem: a write still under way is finished before the stop.
  await waitFor('the first write', () => logged(run, 'x509 svid written') === 1);
  const t = Date.now();
  const r = await stopHelper(run);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - t < 3000, `took ${Date.now() - t} ms`);
});

test('reconnects after the agent restarts on the same socket; files stay untouched while it is down', async () => {
  const dir = tempDir();
  const first = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = helper(dir, first.address, '');
  try {
    const s1 = await waitFor('the first write', () => serialIn(dir));
    const before = statSync(join(dir, 'certs', 'svid.pem'));
    await first.close();
    await waitFor('the helper to notice', () => /stream interrupted; retrying/.test(run.stderr()));
    await delay(1500);
    const during = statSync(join(dir, 'certs', 'svid.pem'));
    assert.equal(during.ino, before.ino);
    assert.equal(serialIn(dir), s1);
    await devAgent(dir, { svidTtlSeconds: 3600 });
    await waitFor('new files from the restarted agent', () => serialIn(dir) !== s1 && serialIn(dir));
  } finally {
    await stopHelper(run);
  }
});

test('health: not ready before the first write, ready after, not ready once the SVID expired; live throughout', async () => {
  const dir = tempDir();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const socket = join(dir, 'agent.sock');
  const run = helper(dir, `unix://${socket}`, `[health_checks]\nlistener_enabled = true\nbind_port = ${port}\n`);
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  try {
    await waitFor('the health listener', () => /health listener started/.test(run.stderr()));
    const early = await get('/ready');
    assert.equal(early.status, 503);
    assert.deepEqual(early.body['file_write_statuses'], { x509_write_status: 'unwritten', jwt_write_status: {} });
    assert.equal((await get('/live')).status, 200);
    const agent = await devAgent(dir, { svidTtlSeconds: 3 });
    await waitFor('ready', async () => (await get('/ready')).status === 200);
    const ready = await get('/ready');
    assert.equal((ready.body['file_write_statuses'] as Record<string, unknown>)['x509_write_status'], 'written');
    assert.equal((ready.body['x509_svid'] as Record<string, unknown>)['spiffe_id'], 'spiffe://example.org/workload');
    await agent.close();
    await waitFor('not ready after expiry', async () => (await get('/ready')).status === 503, 10_000, 200);
    const expired = await get('/ready');
    assert.equal((expired.body['x509_svid'] as Record<string, unknown>)['expired'], true);
    assert.equal((await get('/live')).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  } finally {
    await stopHelper(run);
  }
});

test('a health port already in use is a start-up error (exit 8)', async () => {
  const dir = tempDir();
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = await startCli(['--config', writeConfig(dir, join(dir, 'agent.sock'), `[health_checks]\nlistener_enabled = true\nbind_port = ${port}\n`)]).result;
    assert.equal(r.code, 8);
    assert.match(r.stderr, /port is already in use/);
  } finally {
    blocker.close();
  }
});

test('with JWT outputs only, cmd starts once every token is on disk', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const file = join(dir, 'helper.conf');
  const script = `test -s ${dir}/certs/api.jwt && echo saw-token >> ${dir}/child.log; trap 'exit 0' TERM; while :; do sleep 0.05; done`;
  writeFileSync(
    file,
    `agent_address = "${agent.address}"\ncert_dir = "${join(dir, 'certs')}"\njwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\ncmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(script)}]\nrenew_signal = "SIGHUP"\n`,
  );
  const run = startCli(['--config', file]);
  try {
    await waitFor('the child to start and find the token', () => lines(join(dir, 'child.log')).includes('saw-token'));
  } finally {
    const r = await stopHelper(run);
    assert.equal(r.code, 0, r.stderr);
  }
});
