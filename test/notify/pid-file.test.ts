import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { PidFileSignaller } from '../../src/notify/pid-file.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * pid_file_name: the pid is signalled only if nobody but the helper's user or root could have
 * written it: the file, every directory on the way, every symlink on the way. Otherwise the
 * helper refuses, says why, and never signals (someone who can write the pid file chooses
 * which process a root helper signals).
 */
const OTHER_UID = 65534;
const isRoot = process.getuid?.() === 0;

interface Case {
  name: string;
  /** Lays out the pid file under `dir` with `pid` in it; returns its path. */
  setup: (dir: string, pid: number) => string;
  refused?: RegExp;
  needsRoot?: boolean;
}

const pidFile = (dir: string, pid: number, mode = 0o644): string => {
  const f = join(dir, 'app.pid');
  writeFileSync(f, `${pid}\n`);
  chmodSync(f, mode);
  return f;
};
const subdir = (dir: string, mode: number, uid?: number): string => {
  const d = join(dir, 'run');
  mkdirSync(d);
  chmodSync(d, mode);
  if (uid !== undefined) chownSync(d, uid, uid);
  return d;
};

const cases: Case[] = [
  { name: "file 0644 owned by the helper's user in a 0755 directory", setup: (dir, pid) => pidFile(subdir(dir, 0o755), pid) },
  { name: 'file in a world-writable directory with the sticky bit, like /tmp', setup: (dir, pid) => pidFile(subdir(dir, 0o1777), pid) },
  {
    name: "path through a symlink owned by the helper's user (/var/run -> /run)",
    setup: (dir, pid) => {
      pidFile(subdir(dir, 0o755), pid);
      symlinkSync('run', join(dir, 'var-run'));
      return join(dir, 'var-run', 'app.pid');
    },
  },
  { name: 'file writable by everyone (0666)', setup: (dir, pid) => pidFile(dir, pid, 0o666), refused: /file .*app\.pid is writable by everyone \(mode 0666\)/ },
  { name: 'file writable by its group (0664)', setup: (dir, pid) => pidFile(dir, pid, 0o664), refused: /file .*app\.pid is writable by group \d+ \(mode 0664\)/ },
  {
    name: 'file owned by another non-root user',
    needsRoot: true,
    setup: (dir, pid) => {
      const f = pidFile(dir, pid);
      chownSync(f, OTHER_UID, OTHER_UID);
      return f;
    },
    refused: new RegExp(`file .*app\\.pid is owned by uid ${OTHER_UID}, neither root nor the helper's user`),
  },
  { name: 'directory writable by everyone without the sticky bit (0777)', setup: (dir, pid) => pidFile(subdir(dir, 0o777), pid), refused: /directory .*\/run is writable by everyone \(mode 0777\)/ },
  { name: 'directory writable by its group (0775)', setup: (dir, pid) => pidFile(subdir(dir, 0o775), pid), refused: /directory .*\/run is writable by group/ },
  {
    name: 'directory owned by another non-root user, who can rename another file over the pid file',
    needsRoot: true,
    setup: (dir, pid) => pidFile(subdir(dir, 0o755, OTHER_UID), pid),
    refused: new RegExp(`directory .*/run is owned by uid ${OTHER_UID}`),
  },
  {
    name: 'symlink owned by another non-root user (planted in a sticky directory)',
    needsRoot: true,
    setup: (dir, pid) => {
      const target = pidFile(subdir(dir, 0o755), pid);
      const sticky = join(dir, 'tmp');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      const link = join(sticky, 'app.pid');
      symlinkSync(target, link);
      lchownSync(link, OTHER_UID, OTHER_UID);
      return link;
    },
    refused: new RegExp(`symlink .*/tmp/app\\.pid is owned by uid ${OTHER_UID}`),
  },
  {
    name: 'a FIFO instead of a file',
    setup: (dir) => {
      const f = join(dir, 'app.pid');
      execFileSync('mkfifo', ['-m', '0600', f]);
      return f;
    },
    refused: /app\.pid is not a regular file/,
  },
];

/**
 * A pid file made by `setup` for a live target: signalled, or refused with a log line matching
 * `refused`, the target and the helper itself left alone.
 */
async function checkPidFile(setup: (dir: string, pid: number) => string, refused: RegExp | undefined): Promise<void> {
  const dir = tempDir();
  const target = spawn('sleep', ['1000'], { stdio: 'ignore' });
  after(() => target.kill('SIGKILL'));
  const died = new Promise<NodeJS.Signals | null>((r) => target.once('exit', (_code, sig) => r(sig)));
  let selfSignalled = false;
  const onSelf = (): void => void (selfSignalled = true);
  process.on('SIGUSR2', onSelf);
  after(() => process.off('SIGUSR2', onSelf));
  const lines: string[] = [];
  const signaller = new PidFileSignaller(setup(dir, target.pid!), 'SIGUSR2', createLogger({ write: (l) => lines.push(l) }));
  await signaller.rotated();
  if (!refused) {
    assert.equal(await died, 'SIGUSR2', lines.join('\n'));
    return;
  }
  const line = await waitFor('the refusal', () => lines.find((l) => /cannot signal the process in pid_file_name/.test(l)));
  await signaller.stop();
  assert.match(line, refused);
  assert.equal(target.exitCode ?? target.signalCode, null, 'the process was not signalled');
  assert.equal(selfSignalled, false, 'the helper did not signal itself');
}

for (const c of cases) {
  test(`pid_file_name ${c.refused ? 'refused' : 'trusted'}: ${c.name}`, { skip: c.needsRoot && !isRoot ? 'needs root to own files as another user' : false }, () =>
    checkPidFile(c.setup, c.refused && new RegExp(`refusing to use the pid file.*${c.refused.source}`)),
  );
}

/**
 * What the pid file holds: a pid as daemons write it is signalled; anything Number() would
 * also have read as some pid (hex, exponent, a fraction) is not a pid, nor is the helper's own.
 * Before: `0x…`, `…e0` and `….0` signalled the target, and the helper signalled itself.
 */
const contents: { name: string; content: (pid: number) => string; refused?: RegExp }[] = [
  { name: 'pid and a newline', content: (pid) => `${pid}\n` },
  { name: 'pid without a newline', content: (pid) => `${pid}` },
  { name: 'pid with spaces, a tab and CRLF around', content: (pid) => ` \t${pid}  \r\n` },
  { name: 'pid in hex', content: (pid) => `0x${pid.toString(16)}\n`, refused: /holds \\"0x[0-9a-f]+\\", not a process id/ },
  { name: 'pid with an exponent', content: (pid) => `${pid}e0\n`, refused: /not a process id/ },
  { name: 'pid with a fraction', content: (pid) => `${pid}.0\n`, refused: /not a process id/ },
  { name: 'pid with a plus sign', content: (pid) => `+${pid}\n`, refused: /not a process id/ },
  { name: 'pid followed by garbage', content: (pid) => `${pid} nginx\n`, refused: /not a process id/ },
  { name: 'two pids', content: (pid) => `${pid}\n${pid}\n`, refused: /not a process id/ },
  { name: 'empty', content: () => '', refused: /holds \\"\\", not a process id/ },
  { name: 'zero', content: () => '0\n', refused: /holds \\"0\\", not a process id/ },
  { name: 'minus one (kill(-1) reaches every process)', content: () => '-1\n', refused: /holds \\"-1\\", not a process id/ },
  { name: 'over the largest Linux pid', content: () => '4194305\n', refused: /not a process id/ },
  { name: 'a huge number', content: () => `${'9'.repeat(400)}\n`, refused: /not a process id/ },
  { name: "the helper's own pid (a stale pid file)", content: () => `${process.pid}\n`, refused: /names the helper itself/ },
  { name: 'a pid and megabytes of padding', content: (pid) => `${pid}${' '.repeat(1 << 20)}\n`, refused: /holds \d+ bytes, more than the 4096 expected/ },
];

for (const c of contents) {
  test(`pid_file_name content ${c.refused ? 'refused' : 'signalled'}: ${c.name}`, () =>
    checkPidFile((dir, pid) => {
      const file = join(dir, 'app.pid');
      writeFileSync(file, c.content(pid));
      return file;
    }, c.refused));
}
