import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, writeConfig } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Every duration the command line or the config hands to a timer: one longer than a Node timer
 * can hold (~24.8 days) is a clear error naming the flag or key, never a timer that fires after
 * 1 ms (before: `--timeout 1000h` gave up at once with exit 4; a 1000h grace period SIGKILLed
 * the program 36 ms after the stop signal).
 */
const cases: { name: string; args: (dir: string) => string[]; code: number; message: RegExp }[] = [
  {
    name: '--timeout 1000h',
    args: (dir) => ['--once', '--timeout', '1000h', '--config', writeConfig(dir, `unix://${join(dir, 'none.sock')}`)],
    code: 2,
    message: /--timeout: "1000h" is too long/,
  },
  {
    name: 'cmd_stop_grace_period = "1000h"',
    args: (dir) => ['--config', writeConfig(dir, `unix://${join(dir, 'none.sock')}`, 'cmd = "sleep"\ncmd_args = ["1000"]\nrenew_signal = "SIGHUP"\ncmd_stop_grace_period = "1000h"\n')],
    code: 3,
    message: /cmd_stop_grace_period: "1000h" is too long/,
  },
  {
    name: 'dev-agent --ttl 1000h',
    args: (dir) => ['dev-agent', '--socket', join(dir, 'a.sock'), '--ttl', '1000h'],
    code: 2,
    message: /--ttl.*"1000h" is too long/,
  },
];

/** `--timeout 0` is refused: before, the one-shot gave up at once with exit 4. */
test('--timeout 0 is refused as a usage error naming the flag', async () => {
  const dir = tempDir();
  const r = await runCli(['--once', '--timeout', '0', '--config', writeConfig(dir, `unix://${join(dir, 'none.sock')}`)], { timeoutMs: 20_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--timeout: "0" is zero: give a duration above 0/);
});

for (const c of cases) {
  test(`too long for a timer, refused at start: ${c.name}`, async () => {
    const r = await runCli(c.args(tempDir()), { timeoutMs: 20_000 });
    assert.equal(r.code, c.code, r.stderr);
    assert.match(r.stderr, c.message);
  });
}
