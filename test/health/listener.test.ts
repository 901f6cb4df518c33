import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** The helper's own descriptor limit: small, so that exhausting it costs the test little. */
const NOFILE = 256;
const ATTEMPTS = 3_000;
const BATCH = 200;

async function listenerPort(run: Running): Promise<number> {
  const m = await waitFor('the health listener to start', () => /health listener started address=[\d.]+:(\d+)/.exec(run.stderr()));
  return Number(m[1]);
}

/** Opens `count` idle connections (nothing sent), a batch at a time so the backlog never overflows. */
async function idleConnections(port: number, count: number, held: Set<Socket>): Promise<void> {
  for (let opened = 0; opened < count; opened += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, count - opened) }, () => {
        const s = connect(port, '127.0.0.1');
        held.add(s);
        s.on('error', () => undefined);
        s.on('close', () => held.delete(s));
        return new Promise<void>((r) => {
          s.once('connect', () => r());
          s.once('close', () => r());
        });
      }),
    );
  }
}

test(`listener starvation: ${ATTEMPTS} idle connections to a helper limited to ${NOFILE} descriptors, then a rotation and a probe succeed`, async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = startCli([`--nofile=${NOFILE}:${NOFILE}`, process.execPath, cliPath, '--config', writeConfig(dir, agent.address, `[health_checks]\nlistener_enabled = true\nbind_port = 0\n`)], {
    command: 'prlimit',
  });
  const held = new Set<Socket>();
  try {
    const port = await listenerPort(run);
    const svid = join(dir, 'certs', 'svid.pem');
    const first = await waitFor('the first SVID', () => {
      try {
        return readFileSync(svid, 'utf8');
      } catch {
        return undefined;
      }
    });
    await idleConnections(port, ATTEMPTS, held);
    const fds = readdirSync(`/proc/${run.child.pid}/fd`).length;
    console.log(`# helper descriptors with ${held.size} of ${ATTEMPTS} idle connections still open on the client side: ${fds}`);
    assert.ok(fds < NOFILE / 2, `the helper holds ${fds} descriptors of ${NOFILE}`);

    await agent.rotate();
    await waitFor('the rotation to be written', () => readFileSync(svid, 'utf8') !== first);
    assert.doesNotMatch(run.stderr(), /EMFILE|too many open files/i);
    // Idle connections are dropped within seconds, so the probe gets through while they are still open on our side.
    const status = await waitFor(
      'a probe to be answered',
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(2_000) })).status;
        } catch {
          return undefined;
        }
      },
      20_000,
      200,
    );
    assert.equal(status, 200);
  } finally {
    for (const s of held) s.destroy();
    run.child.kill('SIGTERM');
    const r = await run.result;
    assert.equal(r.code, 0, r.stderr);
  }
});
