import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinnedNodeVersion } from '../helpers/dockerfile.js';
import { test } from 'node:test';
import { launcherPath, runCli, startCli, writeConfig } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * bin/spiffe-helper, the command users install and the image runs: the bundle (dist/bundle)
 * under the V8 flags it sets. The rest of the suite runs the unbundled dist/cli.js; these
 * tests make sure the bundle is the same helper and the launcher a transparent wrapper.
 */
const launcher = { command: launcherPath };
/** The daemon flags chosen for Node 24 (see the launcher's comments for what each saves). */
const DAEMON_FLAGS = ['--max-semi-space-size=1', '--no-opt', '--no-maglev', '--optimize-for-size', '--v8-pool-size=1'];
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

test('the launcher execs node on the bundle with its V8 flags (same pid), even through a symlink as npm installs it', async () => {
  const dir = tempDir();
  const link = join(dir, 'spiffe-helper');
  symlinkSync(launcherPath, link);
  const version = await runCli(['--version'], { command: link });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^spiffe-helper \d+\.\d+\.\d+/);

  // A helper with nothing to connect to keeps retrying: long enough to look at its process.
  const run = startCli(['--config', writeConfig(dir, `unix://${dir}/none.sock`)], launcher);
  try {
    const cmdline = await waitFor('the helper process', () => {
      const argv = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0');
      return argv.some((a) => a.endsWith('dist/bundle/cli.js')) ? argv : undefined;
    });
    for (const flag of DAEMON_FLAGS) assert.ok(cmdline.includes(flag), `${flag} in: ${cmdline.join(' ')}`);
    await waitFor('the helper to be up (its signal handlers installed)', () => /connecting to the workload api/.test(run.stderr()));
  } finally {
    run.child.kill('SIGTERM');
    const r = await run.result;
    // The helper's own clean stop: the signal reached node itself, not a shell in between.
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped.*signal=SIGTERM/);
  }
});

test('a one-shot run asked for on the command line starts without the V8 flags (they cost start-up time; nothing stays in memory)', async () => {
  const dir = tempDir();
  const run = startCli(['--config', writeConfig(dir, `unix://${dir}/none.sock`), '--once', '--timeout', '20s'], launcher);
  try {
    const cmdline = await waitFor('the helper process', () => {
      const argv = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0');
      return argv.some((a) => a.endsWith('dist/bundle/cli.js')) ? argv : undefined;
    });
    for (const flag of DAEMON_FLAGS) assert.ok(!cmdline.includes(flag), `${flag} not in: ${cmdline.join(' ')}`);
  } finally {
    run.child.kill('SIGKILL');
    await run.result;
  }
});

test('the bundled dev agent serves the bundled helper: rotations, SIGHUP to the wrapped cmd, one-shot and inspect', async () => {
  const dir = tempDir();
  const socket = join(dir, 'agent.sock');
  // The dev agent lives in a chunk of its own (with its certificate library): load it through the bundle too.
  // 6s: two rotations within the wait, and an SVID that outlives the one-shot and inspect on a busy machine.
  const agent = startCli(['dev-agent', '--socket', socket, '--ttl', '6s'], launcher);
  try {
    await waitFor('the dev agent socket', () => existsSync(socket));
    const script = `echo start >> ${dir}/child.log; trap 'echo hup >> ${dir}/child.log' HUP; trap 'exit 0' TERM; while :; do sleep 0.05; done`;
    const helper = startCli(['--config', writeConfig(dir, `unix://${socket}`, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(script)}]\nrenew_signal = "SIGHUP"\n`)], launcher);
    try {
      await waitFor('two rotations signalled to the child', () => lines(join(dir, 'child.log')).filter((l) => l === 'hup').length >= 2, 30_000);
      assert.equal(lines(join(dir, 'child.log')).filter((l) => l === 'start').length, 1);
    } finally {
      helper.child.kill('SIGTERM');
      const r = await helper.result;
      assert.equal(r.code, 0, r.stderr);
    }
    const conf = writeConfig(join(dir), `unix://${socket}`);
    const once = await runCli(['--config', conf, '--once', '--timeout', '20s'], launcher);
    assert.equal(once.code, 0, once.stderr);
    const inspect = await runCli(['inspect', '--config', conf, '--json'], launcher);
    assert.equal(inspect.code, 0, inspect.stdout + inspect.stderr);
    assert.equal(JSON.parse(inspect.stdout).x509_svid.spiffe_id, 'spiffe://example.org/workload');
  } finally {
    agent.child.kill('SIGTERM');
    await agent.result;
  }
});

test('SPIFFE_HELPER_LOG_FORMAT=json applies from the first line: a config error is a JSON line too', async (t) => {
  const dir = tempDir();
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, 'cert_dir = 42\n');
  const cases = [
    { name: 'config file error', args: ['--config', bad], env: { SPIFFE_HELPER_LOG_FORMAT: 'json' }, json: true },
    { name: 'environment error', args: ['--config', writeConfig(dir, `unix://${dir}/none.sock`)], env: { SPIFFE_HELPER_LOG_FORMAT: 'json', SPIFFE_HELPER_DAEMON_MODE: 'yes' }, json: true },
    { name: 'missing config file', args: ['--config', join(dir, 'missing.conf')], env: { SPIFFE_HELPER_LOG_FORMAT: 'json' }, json: true },
    { name: 'the flag beats the variable', args: ['--config', bad, '--log-format', 'text'], env: { SPIFFE_HELPER_LOG_FORMAT: 'json' }, json: false },
    { name: 'the flag alone', args: ['--config', bad, '--log-format=json'], env: {}, json: true },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const r = await runCli(c.args, { ...launcher, env: c.env });
      assert.equal(r.code, 3, r.stderr);
      const out = r.stderr.split('\n').filter(Boolean);
      assert.ok(out.length > 0);
      for (const line of out) {
        if (c.json) assert.equal(JSON.parse(line).level, 'error', line);
        else assert.throws(() => JSON.parse(line), line);
      }
    });
  }
});

test('scripts/with-node.sh (npm test, .ci/run, demo, bench) runs commands on the pinned Node, and the launcher picks it from PATH', async () => {
  const withNode = fileURLToPath(new URL('../../scripts/with-node.sh', import.meta.url));
  const version = spawnSync('bash', [withNode, 'node', '--version'], { encoding: 'utf8' });
  assert.equal(version.stdout.trim(), `v${pinnedNodeVersion()}`, version.stderr);
  const node = spawnSync('bash', [withNode, 'sh', '-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();

  const dir = tempDir();
  const helper = startCli([withNode, launcherPath, '--config', writeConfig(dir, `unix://${dir}/none.sock`)], { command: 'bash' });
  try {
    await waitFor('the helper to be up', () => /connecting to the workload api/.test(helper.stderr()));
    assert.equal(readlinkSync(`/proc/${helper.child.pid}/exe`), realpathSync(node), 'exec chain: bash -> launcher -> the pinned node, same pid');
  } finally {
    helper.child.kill('SIGTERM');
    await helper.result;
  }
});
