import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cliPath, writeConfig } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Every subcommand stops on Ctrl-C / SIGTERM, whatever it is blocked on: a one-shot command
 * exits 130 / 143; the servers (daemon, dev-agent) stop cleanly with 0. Before, `jwt verify -`
 * waiting on stdin and `inspect` on a FIFO ignored both (the helper catches the signals, and
 * a read from a FIFO or a terminal cannot be aborted).
 */
const fifo = (dir: string, name: string): string => {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
};
const noAgent = (dir: string): string => `unix://${join(dir, 'none.sock')}`;

/** `ready`: the server is up (a stop before that interrupts its start-up: 130 / 143). */
const cases: { name: string; args: (dir: string) => string[]; oneShot: boolean; ready?: RegExp }[] = [
  { name: 'jwt verify - waiting for the token on stdin', args: () => ['jwt', 'verify', '--bundle', '/nonexistent', '--audience', 'a', '-'], oneShot: true },
  { name: 'jwt verify --bundle on a FIFO', args: (dir) => ['jwt', 'verify', '--bundle', fifo(dir, 'b'), '--audience', 'a', 'x.y.z'], oneShot: true },
  { name: 'inspect --dir with a FIFO as svid.pem', args: (dir) => (fifo(dir, 'svid.pem'), ['inspect', '--dir', dir]), oneShot: true },
  // Read as bytes: before, through fs.readFile, whose thread blocked in open() kept Node from exiting.
  { name: 'inspect --dir with a FIFO as the keystore', args: (dir) => ['inspect', '--dir', dir, '--keystore', (fifo(dir, 'ks.p12'), 'ks.p12')], oneShot: true },
  { name: 'inspect --dir with a FIFO as the truststore', args: (dir) => ['inspect', '--dir', dir, '--truststore', (fifo(dir, 'ts.p12'), 'ts.p12')], oneShot: true },
  { name: 'convert-config - waiting on stdin', args: () => ['convert-config', '-'], oneShot: true },
  { name: 'inspect --config on a FIFO', args: (dir) => ['inspect', '--config', fifo(dir, 'c.conf')], oneShot: true },
  { name: 'convert-config on a FIFO', args: (dir) => ['convert-config', fifo(dir, 'c.hcl')], oneShot: true },
  { name: '--once --config on a FIFO', args: (dir) => ['--once', '--config', fifo(dir, 'c.conf')], oneShot: true },
  { name: '--once waiting for an absent agent', args: (dir) => ['--once', '--config', writeConfig(dir, noAgent(dir))], oneShot: true },
  { name: 'daemon --config on a FIFO', args: (dir) => ['--config', fifo(dir, 'c.conf')], oneShot: true },
  { name: 'daemon waiting for an absent agent', args: (dir) => ['--config', writeConfig(dir, noAgent(dir))], oneShot: false, ready: /connecting to the workload api/ },
  { name: 'dev-agent serving', args: (dir) => ['dev-agent', '--socket', join(dir, 'a.sock')], oneShot: false, ready: /dev agent listening/ },
];

/**
 * True once the helper's own signal handlers are in place: a signal sent earlier ends Node the
 * default way. Node catches SIGINT and SIGTERM from its start (to restore the terminal), so the
 * tell is SIGHUP and SIGUSR2 (bits 0 and 11 of SigCgt), which the helper catches right after.
 */
function handlersInstalled(pid: number): boolean {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const mask = BigInt(`0x${m![1]}`);
  return (mask & (1n << 0n)) !== 0n && (mask & (1n << 11n)) !== 0n;
}

for (const c of cases) {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    const expected = c.oneShot ? code : 0;
    test(`${sig} stops ${c.name}: exit ${expected}`, async () => {
      const dir = tempDir();
      // stdin stays open and empty: a command reading it waits, as at a terminal.
      const child = spawn(process.execPath, [cliPath, ...c.args(dir)], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: '' } });
      after(() => child.kill('SIGKILL'));
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.resume();
      const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      await waitFor('the signal handlers', () => handlersInstalled(child.pid!));
      if (c.ready) await waitFor(`${c.ready}`, () => c.ready!.test(stderr));
      child.kill(sig);
      // A bound, not a speed check: without it a command that ignores the signal hangs the test.
      const outcome = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 10_000).unref())]);
      assert.equal(outcome, expected, stderr);
    });
  }
}

test('a FIFO that gets a writer is still read to its end (convert-config <(...))', async () => {
  const dir = tempDir();
  const path = fifo(dir, 'c.hcl');
  const child = spawn(process.execPath, [cliPath, 'convert-config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => child.kill('SIGKILL'));
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const closed = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  // Opening a FIFO for writing waits for its reader; then two writes, then the end.
  const w = await open(path, 'w');
  await w.write('agent_address = "/run/agent.sock"\n');
  await w.write('cert_dir = "/certs"\nsvid_file_name = "svid.pem"\nsvid_key_file_name = "key.pem"\nsvid_bundle_file_name = "bundle.pem"\n');
  await w.close();
  assert.equal(await closed, 0);
  assert.match(stdout, /agent_address = "\/run\/agent.sock"[^]*svid_bundle_file_name = "bundle.pem"/);
});
