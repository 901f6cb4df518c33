/**
 * One writer per directory, whatever happens to cert_dir after the start: the lock is taken in
 * the directory cert_dir resolved to at the start, but every write resolves it again. A cert_dir
 * symlink re-pointed, or cert_dir removed and re-created, moves the writes to a directory whose
 * lock nobody holds: a second helper started there must still be refused, and a helper that finds
 * another's lock in the directory it is about to write must not write there.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startDevAgent, type DevAgent } from '../../src/dev/agent.js';
import { LOCK_NAME } from '../../src/output/names.js';
import { writeConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { Helper, isWriteFailed, isWritten, leafSerial, scope, type Scope } from './lib.js';

async function agentIn(s: Scope): Promise<DevAgent> {
  const a = await startDevAgent({ socketPath: join(s.dir, 'agent.sock'), svidTtlSeconds: 3600 });
  s.defer(() => a.close());
  return a;
}

/** A second deployment's config: its own file, writing `dir` by its real path. */
function secondConfig(s: Scope, address: string, dir: string): string {
  mkdirSync(join(s.dir, 'second'));
  const file = writeConfig(join(s.dir, 'second'), address, 'file_layout = "atomic_dir"\n');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/cert_dir = .*/, `cert_dir = "${dir}"`));
  return file;
}

/** A helper writing cert_dir, a symlink to `a`, after its first write. */
async function started(prefix: string): Promise<{ s: Scope; certs: string; a: string; agent: DevAgent; first: Helper }> {
  const s = scope(prefix);
  const certs = join(s.dir, 'certs');
  const a = join(s.dir, 'a');
  mkdirSync(a);
  symlinkSync(a, certs);
  const agent = await agentIn(s);
  const first = Helper.start(writeConfig(s.dir, agent.address, 'file_layout = "atomic_dir"\n'));
  s.defer(() => first.stop());
  await first.waitFor('the first write', 0, isWritten);
  return { s, certs, a, agent, first };
}

const serial = (a: DevAgent) => leafSerial(a.current()!.svids[0]!.x509_svid);

/** Each case moves cert_dir's writes to another directory; returns that directory. */
const MOVES: [string, (s: Scope, certs: string) => string][] = [
  [
    'cert_dir symlink re-pointed to another directory',
    (s, certs) => {
      const b = join(s.dir, 'b');
      mkdirSync(b);
      symlinkSync(b, `${certs}.new`);
      renameSync(`${certs}.new`, certs);
      return b;
    },
  ],
  [
    'cert_dir removed and re-created',
    (_s, certs) => {
      rmSync(certs, { recursive: true, force: true });
      mkdirSync(certs);
      return certs;
    },
  ],
];

describe('the cert_dir lock follows the directory written', () => {
  for (const [name, move] of MOVES) {
    test(`${name}: the helper takes the lock where it now writes; a second helper there exits 10 naming it`, async () => {
      const { s, certs, a, agent, first } = await started('slf-');
      const now = move(s, certs);
      const m = first.mark();
      await agent.rotate();
      await first.waitFor('the write into the new directory', m, (l) => isWritten(l) && l.serial === serial(agent));
      assert.ok(!existsSync(join(a, LOCK_NAME)), 'the lock of the directory no longer written is released');
      const second = Helper.start(secondConfig(s, agent.address, now));
      s.defer(() => second.stop());
      const exited = await waitFor('the second helper to exit or write', () => (!second.alive ? 'exited' : second.find(0, isWritten) ? 'wrote' : undefined), 15_000, 20);
      assert.equal(exited, 'exited', 'a second writer on the directory the first now writes was let in');
      const r = await second.run.result;
      assert.equal(r.code, 10, r.stderr);
      assert.match(r.stderr, new RegExp(`is in use by another spiffe-helper: pid ${first.pid}\\b`));
    });

    test(`${name}, then a second helper starts there first: the first helper does not write into its directory`, async () => {
      const { s, certs, agent, first } = await started('slg-');
      const now = move(s, certs);
      const second = Helper.start(secondConfig(s, agent.address, now));
      s.defer(() => second.stop());
      await second.waitFor('the second helper writes', 0, isWritten);
      const m = first.mark();
      await agent.rotate();
      const line = await first.waitFor('the first helper to write or refuse', m, (l) => isWritten(l) || isWriteFailed(l));
      assert.ok(isWriteFailed(line), `the first helper wrote into a directory another helper holds: ${JSON.stringify(line)}`);
      assert.match(String(line.error), new RegExp(`is in use by another spiffe-helper: pid ${second.pid}\\b`));
      assert.ok(first.alive && second.alive);
    });
  }
});
