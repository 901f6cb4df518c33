import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli, writeConfig } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const ROTATIONS = 500;
const readerScript = new URL('../fixtures/reader.mjs', import.meta.url).pathname;

for (const layout of ['files', 'atomic_dir'] as const) {
  test(`a concurrent reader never sees a partial file during ${ROTATIONS} rotations (file_layout = "${layout}")`, async () => {
    const dir = tempDir();
    const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    const certs = join(dir, 'certs');
    // Back-to-back rotations, each written as it comes: what the reader races against.
    const run = startCli(['--config', writeConfig(dir, agent.address, `file_layout = "${layout}"\nupdate_quiet_period = "0s"\n`)]);
    const serial = () => {
      try {
        return new X509Certificate(readFileSync(join(certs, 'svid.pem'))).serialNumber;
      } catch {
        return '';
      }
    };
    await waitFor('the first write', serial);
    const out = join(dir, 'reader.json');
    const reader = spawn(process.execPath, [readerScript, certs, layout, out], { stdio: 'inherit' });
    const readerDone = new Promise((r) => reader.on('exit', r));
    try {
      for (let i = 0; i < ROTATIONS; i++) {
        await agent.rotate();
        const expected = agent.current()!.svids[0]!;
        const want = new X509Certificate(expected.x509_svid.subarray(0, 2 + expected.x509_svid.readUInt16BE(2) + 2)).serialNumber;
        await waitFor(`rotation ${i + 1}`, () => serial() === want, 10_000, 2);
      }
    } finally {
      reader.kill('SIGTERM');
      await readerDone;
      run.child.kill('SIGTERM');
      await run.result;
    }
    const counts = JSON.parse(readFileSync(out, 'utf8'));
    console.log(`# concurrency (${layout}): ${ROTATIONS} rotations, reader counts ${JSON.stringify(counts)}`);
    assert.ok(counts.reads > ROTATIONS, 'the reader kept up');
    assert.ok(counts.distinct > ROTATIONS / 10, 'the reader saw many rotations');
    assert.equal(counts.partial, 0, 'never a partial or empty file');
    assert.equal(counts.missing, 0, 'never a missing file');
    if (layout === 'atomic_dir') assert.equal(counts.mismatched, 0, 'never a certificate beside the wrong key');
  });
}
