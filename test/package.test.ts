import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, startCli, writeConfig } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

/**
 * The package as a platform team gets it: `npm pack` (nothing is published to a registry), then
 * `npm install -g` of the tarball into an empty prefix, offline and without dev dependencies. The
 * installed command must work with no node_modules at all: the helper and the dev agent.
 */
const repo = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Record<string, any>;
/** md5 of https://www.apache.org/licenses/LICENSE-2.0.txt, the plain Apache-2.0 text. */
const APACHE_2_0_MD5 = '3b83ef96387f14655fc854ddc3c6bd57';

function npm(args: string[], cwd: string): string {
  // --ignore-scripts: the suite built dist/ already, and other tests are reading it.
  const r = spawnSync('npm', [...args, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `npm ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

test('package.json: no runtime dependencies, the chosen Node in engines, metadata', () => {
  for (const key of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies']) assert.equal(pkg[key], undefined, `${key}: the bundle is self-contained`);
  assert.equal(pkg['engines']?.['node'], '>=24');
  assert.equal(pkg['license'], 'Apache-2.0');
  assert.ok(Array.isArray(pkg['keywords']) && pkg['keywords'].includes('spiffe'));
  assert.match(pkg['devDependencies']['@types/node'], /^\^24\./);
});

test('npm pack, then npm install -g of the tarball offline with --omit=dev: --version, the dev agent and --once work, and no node_modules are installed', { timeout: 240_000 }, async () => {
  const dir = tempDir('sh-pack-');
  const tarball = npm(['pack', '--pack-destination', dir], repo).trim().split('\n').pop()!;
  const prefix = join(dir, 'prefix');
  npm(['install', '--global', '--prefix', prefix, '--omit=dev', '--offline', join(dir, tarball)], dir);

  const installed = join(prefix, 'lib', 'node_modules', pkg['name']);
  const contents = files(installed);
  assert.ok(!contents.some((f) => f.split('/').includes('node_modules')), `node_modules installed: ${contents.filter((f) => f.includes('node_modules')).join(', ')}`);
  assert.deepEqual(readdirSync(join(prefix, 'lib', 'node_modules')), [pkg['name']], 'nothing but the package itself');
  assert.equal(
    createHash('md5')
      .update(readFileSync(join(installed, 'LICENSE')))
      .digest('hex'),
    APACHE_2_0_MD5,
    'LICENSE is the Apache-2.0 text',
  );
  assert.ok(existsSync(join(installed, 'NOTICE')));
  const notices = readFileSync(join(installed, 'dist', 'bundle', 'THIRD-PARTY-NOTICES.txt'), 'utf8');
  assert.match(notices, /^smol-toml \d/m, 'the bundled TOML parser is in the notices');
  assert.ok(!contents.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'sources and tests stay out of the package');

  const command = join(prefix, 'bin', 'spiffe-helper');
  const version = await runCli(['--version'], { command });
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `spiffe-helper ${pkg['version']}\n`, "the version is package.json's, built into the bundle");

  // The dev agent too: its certificate libraries are bundled in a chunk of their own.
  const socket = join(dir, 'agent.sock');
  const agent = startCli(['dev-agent', '--socket', socket], { command, cwd: dir });
  try {
    await waitFor('the installed dev agent', () => existsSync(socket) || agent.child.exitCode !== null);
    assert.equal(agent.child.exitCode, null, agent.stderr());
    const once = await runCli(['--config', writeConfig(dir, `unix://${socket}`), '--once', '--timeout', '20s'], { command, cwd: dir });
    assert.equal(once.code, 0, once.stderr);
    for (const f of ['svid.pem', 'svid_key.pem', 'bundle.pem']) assert.ok(existsSync(join(dir, 'certs', f)), f);
  } finally {
    agent.child.kill('SIGTERM');
    await agent.result;
  }
});
