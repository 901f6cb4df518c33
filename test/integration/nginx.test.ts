import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The serial of the certificate a TLS client is shown, as openssl prints it. */
function servedSerial(port: number): string {
  const hello = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'], { input: '', encoding: 'utf8', timeout: 10_000 });
  const pem = /-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/.exec(hello.stdout)?.[0];
  if (!pem) return '';
  return execFileSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' }).trim().replace('serial=', '');
}

const fileSerial = (file: string) => execFileSync('openssl', ['x509', '-in', file, '-noout', '-serial'], { encoding: 'utf8' }).trim().replace('serial=', '');

test('the README nginx walkthrough: nginx wrapped as cmd serves the rotated certificate after SIGHUP, without restarting', {
  skip: nginx ? false : 'nginx is not installed (scripts/install-test-deps.sh installs it)',
}, async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600, intermediate: true });
  const port = await freePort();
  const certs = join(dir, 'certs');
  // The README's walkthrough files, moved to this test's directory and port.
  const fromExample = (name: string) =>
    readFileSync(new URL(`../../examples/nginx/${name}`, import.meta.url), 'utf8')
      .replaceAll('/tmp/spiffe-helper-nginx', dir)
      .replaceAll('127.0.0.1:8443', `127.0.0.1:${port}`)
      .replaceAll('/usr/sbin/nginx', nginx!);
  writeFileSync(join(dir, 'nginx.conf'), fromExample('nginx.conf'));
  writeFileSync(join(dir, 'helper.conf'), fromExample('helper.conf'));
  const run = startCli(['--config', join(dir, 'helper.conf')]);
  try {
    const first = await waitFor('nginx to serve the first SVID', () => servedSerial(port), 20_000, 100);
    assert.equal(first, fileSerial(join(certs, 'svid.pem')));
    const masterPid = readFileSync(join(dir, 'nginx.pid'), 'utf8').trim();
    await agent.rotate();
    const second = await waitFor(
      'nginx to serve the rotated SVID',
      () => {
        const s = servedSerial(port);
        return s && s !== first ? s : '';
      },
      20_000,
      100,
    );
    assert.equal(second, fileSerial(join(certs, 'svid.pem')), 'nginx serves exactly what the helper wrote');
    assert.equal(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim(), masterPid, 'same nginx master: reloaded, not restarted');
    // openssl ran synchronously: let the helper's log lines in before reading them.
    await waitFor('the SIGHUP in the log', () => /signalled cmd after rotation pid=\d+ signal=SIGHUP/.test(run.stderr()), 5_000);
  } finally {
    run.child.kill('SIGTERM');
    const r = await run.result;
    assert.equal(r.code, 0, `nginx exits 0 on the forwarded SIGTERM and the helper with it: ${r.stderr.slice(-2000)}`);
  }
});
