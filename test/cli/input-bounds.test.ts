/**
 * A file a person names or pipes in is read within NAMED_INPUT_MAX_BYTES (64 MiB): `/dev/zero`,
 * an endless pipe or a huge file is refused with a reason naming what was read, instead of
 * being read into memory until Node gives up (before: `jwt verify -` on an endless stdin grew
 * to gigabytes; `--config /dev/zero` read up to 2 GiB before failing).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cliPath } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

type Stdin = 'zero' | 'endless pipe' | 'none';
interface Case {
  name: string;
  args: (dir: string) => string[];
  stdin: Stdin;
  code: number;
  says: RegExp;
}

const TOO_LARGE = 'larger than 64 MiB, more than any file this command reads';
const sparse = (dir: string, name: string, bytes: number): string => {
  const path = join(dir, name);
  writeFileSync(path, '');
  truncateSync(path, bytes);
  return path;
};

const cases: Case[] = [
  {
    name: 'jwt verify - with /dev/zero as stdin',
    args: () => ['jwt', 'verify', '--bundle', '/nonexistent', '--audience', 'a', '-'],
    stdin: 'zero',
    code: 5,
    says: new RegExp(`jwtsvid: cannot read the token from stdin: ${TOO_LARGE}`),
  },
  {
    name: 'jwt verify - with an endless pipe as stdin',
    args: () => ['jwt', 'verify', '--bundle', '/nonexistent', '--audience', 'a', '-'],
    stdin: 'endless pipe',
    code: 5,
    says: new RegExp(`jwtsvid: cannot read the token from stdin: ${TOO_LARGE}`),
  },
  { name: 'convert-config - with an endless pipe as stdin', args: () => ['convert-config', '-'], stdin: 'endless pipe', code: 3, says: new RegExp(`-: cannot read: ${TOO_LARGE}`) },
  { name: '--once --config /dev/zero', args: () => ['--once', '--config', '/dev/zero'], stdin: 'none', code: 3, says: new RegExp(`/dev/zero: cannot read config: ${TOO_LARGE}`) },
  {
    name: '--once --config naming a 65 MiB file (sparse: refused by its size, unread)',
    args: (dir) => ['--once', '--config', sparse(dir, 'big.conf', 65 * 1024 * 1024)],
    stdin: 'none',
    code: 3,
    says: new RegExp(`big\\.conf: cannot read config: ${TOO_LARGE}`),
  },
  {
    name: 'jwt verify --bundle /dev/zero',
    args: () => ['jwt', 'verify', '--bundle', '/dev/zero', '--audience', 'a', 'x.y.z'],
    stdin: 'none',
    code: 5,
    says: new RegExp(`jwtbundle: cannot read /dev/zero: ${TOO_LARGE}`),
  },
  {
    name: 'inspect --dir with svid.pem a link to /dev/zero',
    args: (dir) => (symlinkSync('/dev/zero', join(dir, 'svid.pem')), ['inspect', '--dir', dir]),
    stdin: 'none',
    code: 9,
    says: new RegExp(`svid\\.pem: cannot read: ${TOO_LARGE}`),
  },
];

for (const c of cases) {
  test(`${c.name}: refused, exit ${c.code}, naming what was read`, async () => {
    const dir = tempDir();
    const zero = c.stdin === 'zero' ? openSync('/dev/zero', 'r') : undefined;
    const child = spawn(process.execPath, [cliPath, ...c.args(dir)], { stdio: [zero ?? 'pipe', 'pipe', 'pipe'] });
    if (zero !== undefined) closeSync(zero);
    after(() => child.kill('SIGKILL'));
    // inspect lists the problems it found on stdout; the other commands say why on stderr.
    let said = '';
    child.stderr!.on('data', (d) => (said += d));
    child.stdout!.on('data', (d) => (said += d));
    if (c.stdin === 'endless pipe') {
      const chunk = Buffer.alloc(1 << 20, 'a');
      child.stdin!.on('error', () => undefined);
      const feed = (): void => {
        while (child.stdin!.writable && child.stdin!.write(chunk));
        if (child.stdin!.writable) child.stdin!.once('drain', feed);
      };
      feed();
    } else child.stdin?.end();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // A bound, not a speed check: without the limit the command reads until memory runs out.
    const outcome = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000).unref())]);
    assert.equal(outcome, c.code, said);
    assert.match(said, c.says);
  });
}
