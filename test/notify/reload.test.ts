import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { ReloadCommand } from '../../src/notify/reload.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { alive, pidsIn } from './procs.js';

/**
 * A reload command that hangs (a database that does not answer `ALTER INSTANCE RELOAD TLS`)
 * holds every later rotation back. Before, nothing said so: the rotations were queued silently.
 */
/**
 * `started`: the rotations come once the command has run its first line, or at once, while it
 * is still being spawned (before, a rotation then found no run in progress: it was queued and
 * nothing was ever said). The command is stopped whatever the outcome: left running, its
 * `sleep 1000` kept the test file from exiting.
 */
for (const [when, fields] of [
  ['once it has started', /cmd=sh pid=\d+ running_ms=\d+/],
  ['while it is still being spawned', /cmd=sh running_ms=\d+/],
] as const) {
  test(`rotations while the reload command still runs (${when}): one warning naming it, the next run queued`, async () => {
    const lines: string[] = [];
    const started = join(tempDir(), 'started');
    const reload = new ReloadCommand({ path: 'sh', args: ['-c', `touch ${started}; sleep 1000`], restartPolicy: 'never', stopGraceMs: 1000 }, createLogger({ write: (l) => lines.push(l) }));
    try {
      await reload.rotated();
      if (when === 'once it has started') {
        await waitFor('the first run', () => existsSync(started));
        // Its 'spawn' event comes on the next tick: a fast command can touch the file first.
        await new Promise((r) => setImmediate(r));
      }
      await reload.rotated();
      await reload.rotated();
      const warnings = lines.filter((l) => /reload command still running; this rotation is reloaded once it exits/.test(l));
      assert.equal(warnings.length, 1, `one warning while the next run is already queued:\n${lines.join('\n')}`);
      assert.match(warnings[0]!, fields);
    } finally {
      await reload.stop('SIGTERM');
    }
  });
}

test('stop while the reload command is starting: it is stopped too, and stop() returns', async () => {
  const pids = join(tempDir(), 'pids');
  const reload = new ReloadCommand({ path: 'sh', args: ['-c', `echo $$ >> ${pids}; exec sleep 1000`], restartPolicy: 'never', stopGraceMs: 1000 }, createLogger({ write: () => undefined }));
  await reload.rotated();
  // A bound, not a speed check: before, stop() waited for the command to finish, i.e. forever.
  const outcome = await Promise.race([reload.stop('SIGTERM').then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still waiting'), 10_000).unref())]);
  pidsIn(pids)
    .filter(alive)
    .forEach((p) => process.kill(p, 'SIGKILL'));
  assert.equal(outcome, 'stopped');
});
