import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, writeConfig } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';

const x509Env = (dir: string, address: string) => ({
  SPIFFE_HELPER_AGENT_ADDRESS: address,
  SPIFFE_HELPER_CERT_DIR: join(dir, 'certs'),
  SPIFFE_HELPER_SVID_FILE_NAME: 'svid.pem',
  SPIFFE_HELPER_SVID_KEY_FILE_NAME: 'svid_key.pem',
  SPIFFE_HELPER_SVID_BUNDLE_FILE_NAME: 'bundle.pem',
});

test('without --config and without helper.conf, the environment alone configures the helper', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir);
  const r = await runCli([], { cwd: dir, env: { ...x509Env(dir, agent.address), SPIFFE_HELPER_DAEMON_MODE: 'false', SPIFFE_HELPER_KEY_FILE_MODE: '0640' } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'certs', 'svid.pem')));
  assert.match(r.stderr, /source=SPIFFE_HELPER_AGENT_ADDRESS/);
});

test('an explicitly given config file that is missing is an error, whatever the environment says', async () => {
  const dir = tempDir();
  const r = await runCli(['--config', join(dir, 'missing.conf'), '--once'], { cwd: dir, env: x509Env(dir, 'unix:///nowhere.sock') });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /missing\.conf: cannot read config: file not found/);
});

test('no helper.conf and no SPIFFE_HELPER_* variable: the error says how to configure', async () => {
  const dir = tempDir();
  const r = await runCli(['--once'], { cwd: dir });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /helper\.conf: cannot read config: file not found \(pass --config FILE, or configure with SPIFFE_HELPER_\* environment variables\)/);
});

test('precedence: flags over environment over file', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir);
  // The file says daemon; the environment says one-shot: one-shot wins, the helper exits.
  const file = writeConfig(dir, 'unix:///wrong/agent.sock', 'daemon_mode = true\n');
  const env = await runCli(['--config', file], { env: { SPIFFE_HELPER_DAEMON_MODE: 'false', SPIFFE_HELPER_AGENT_ADDRESS: agent.address }, timeoutMs: 15_000 });
  assert.equal(env.code, 0, env.stderr);
  // The environment says daemon; --once wins.
  const flag = await runCli(['--config', file, '--once'], { env: { SPIFFE_HELPER_DAEMON_MODE: 'true', SPIFFE_HELPER_AGENT_ADDRESS: agent.address }, timeoutMs: 15_000 });
  assert.equal(flag.code, 0, flag.stderr);
  // --log-format beats SPIFFE_HELPER_LOG_FORMAT.
  const fmt = await runCli(['--config', file, '--once', '--log-format', 'json'], { env: { SPIFFE_HELPER_LOG_FORMAT: 'text', SPIFFE_HELPER_AGENT_ADDRESS: agent.address } });
  assert.equal(fmt.code, 0, fmt.stderr);
  assert.match(fmt.stderr.trim().split('\n').pop()!, /^\{"time"/);
});

test('an unknown or badly typed SPIFFE_HELPER_* variable stops the helper (exit 3) and is named', async () => {
  const dir = tempDir();
  const file = writeConfig(dir, 'unix:///nowhere.sock');
  const typo = await runCli(['--config', file, '--once'], { env: { SPIFFE_HELPER_CERT_DIRS: '/x' } });
  assert.equal(typo.code, 3);
  assert.match(typo.stderr, /SPIFFE_HELPER_CERT_DIRS: unknown environment variable.*did you mean SPIFFE_HELPER_CERT_DIR\?/);
  const bad = await runCli(['--config', file, '--once'], { env: { SPIFFE_HELPER_OMIT_EXPIRED: 'yes' } });
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /SPIFFE_HELPER_OMIT_EXPIRED: omit_expired: must be true or false/);
});
