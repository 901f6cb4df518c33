import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { WrappedProgram } from '../../src/notify/wrapped.js';
import { tempDir } from '../helpers/tmp.js';
import { delay } from '../helpers/wait.js';
import { alive, pidsIn } from './procs.js';

/**
 * A stop that comes while the wrapped program is being started (the first identity and SIGTERM
 * at once, or a restart under cmd_restart_policy): the program must not start after the stop
 * returned. Before, stop() saw no program yet and returned, and the program then ran on.
 */
test('stop while the program is starting: it is stopped too, not left running after the stop', async () => {
  const pids = join(tempDir(), 'pids');
  after(() =>
    pidsIn(pids)
      .filter(alive)
      .forEach((p) => process.kill(p, 'SIGKILL')),
  );
  const program = new WrappedProgram(
    { path: 'sh', args: ['-c', `echo $$ >> ${pids}; exec sleep 1000`], restartPolicy: 'never', stopGraceMs: 2000 },
    'SIGHUP',
    createLogger({ write: () => undefined }),
  );
  const starting = program.rotated();
  await program.stop('SIGTERM');
  await starting.catch(() => undefined);
  await delay(500);
  assert.deepEqual(pidsIn(pids).filter(alive), [], 'no process of the program runs after stop() returned');
});
