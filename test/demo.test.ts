import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The README's first command, `npm run demo`: the helper (bin/spiffe-helper) against the dev agent, rotating. */
test('npm run demo writes a certificate and rotates it', () => {
  const script = fileURLToPath(new URL('../scripts/demo.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--seconds', '9'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const m = /demo: done — (\d+) distinct certificates were written/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) >= 2, `at least one rotation in 9 s with a 10 s TTL: ${m[0]}`);
});
