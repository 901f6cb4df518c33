/**
 * Bursts from the agent, as SPIRE sends them when a bundle change and a new SVID land in the
 * same sync: two X.509 messages a millisecond apart. The daemon (the built CLI) wrapping a
 * program that records every SIGHUP, against the development agent.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DevAgent } from '../../src/dev/agent.js';
import type { X509SVIDResponseMessage } from '../../src/workload/proto.js';
import { startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const leafSerial = (m: X509SVIDResponseMessage): string => {
  const der = Buffer.from(m.svids[0]!.x509_svid);
  return new X509Certificate(der.subarray(0, 4 + der.readUInt16BE(2))).serialNumber;
};
const serialIn = (dir: string): string => {
  try {
    return new X509Certificate(readFileSync(join(dir, 'certs', 'svid.pem'))).serialNumber;
  } catch {
    return '';
  }
};

/** On each SIGHUP, appends the serial of the svid.pem it reads then. */
const recorder = (dir: string) => `
echo up > ${dir}/up
trap 'openssl x509 -in ${dir}/certs/svid.pem -noout -serial | cut -d= -f2 >> ${dir}/hup.log' HUP
while :; do sleep 0.02; done`;

async function wrapping(dir: string, agent: DevAgent, extra = ''): Promise<Running> {
  const cmd = `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(recorder(dir))}]\nrenew_signal = "SIGHUP"\n`;
  const run = startCli(['--config', writeConfig(dir, agent.address, `${cmd}${extra}`)]);
  await waitFor('the wrapped program to start', () => existsSync(join(dir, 'up')));
  return run;
}

/** The log lines' times (ms) for `msg`. */
const timesOf = (run: Running, msg: string): number[] =>
  run
    .stderr()
    .split('\n')
    .filter((l) => l.includes(` ${msg}`))
    .map((l) => Date.parse(l.slice(0, 24)));

/**
 * What SPIRE pushes when a new CA is prepared and an entry changes in one sync: first the
 * current SVID with the grown bundle, then a new SVID with that bundle. The new SVID and CA come
 * from a second development agent of the same trust domain.
 */
async function doublePush(dir: string, current: X509SVIDResponseMessage): Promise<[X509SVIDResponseMessage, X509SVIDResponseMessage]> {
  const next = await devAgent(dir, { svidTtlSeconds: 3600, socketPath: join(dir, `next-${Date.now()}.sock`) });
  const fresh = next.current()!;
  const grown = Buffer.concat([Buffer.from(current.svids[0]!.bundle), Buffer.from(fresh.svids[0]!.bundle)]);
  return [
    { ...current, svids: [{ ...current.svids[0]!, bundle: grown }] },
    { ...fresh, svids: [{ ...fresh.svids[0]!, bundle: grown }] },
  ];
}

test('two X.509 updates 1 ms apart (a bundle change, then the new SVID) are written once and signalled once', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = await wrapping(dir, agent);
  try {
    const [bundleChange, newSvid] = await doublePush(dir, agent.current()!);
    agent.pushX509(bundleChange);
    await delay(1);
    agent.pushX509(newSvid);
    await waitFor('the new SVID on disk and one SIGHUP', () => serialIn(dir) === leafSerial(newSvid) && lines(join(dir, 'hup.log')).length === 1);
    // Past the quiet and settle periods: nothing more is written or signalled.
    await delay(1500);
    assert.equal(timesOf(run, 'x509 svid written').length, 2, `the first write and one for the burst:\n${run.stderr()}`);
    assert.deepEqual(lines(join(dir, 'hup.log')), [leafSerial(newSvid)], 'one SIGHUP, after which the program read the new certificate');
  } finally {
    run.child.kill('SIGTERM');
    await run.result;
  }
});

test('an update that comes just after a signal is written only once renew_settle_period has passed', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = await wrapping(dir, agent, 'update_quiet_period = "0s"\nrenew_settle_period = "800ms"\n');
  try {
    const [bundleChange, newSvid] = await doublePush(dir, agent.current()!);
    agent.pushX509(bundleChange);
    await waitFor('the bundle change to be signalled', () => timesOf(run, 'signalled cmd after rotation').length === 1);
    agent.pushX509(newSvid);
    await waitFor('the new SVID to be signalled', () => timesOf(run, 'signalled cmd after rotation').length === 2, 5_000);
    const [signalled] = timesOf(run, 'signalled cmd after rotation');
    const written = timesOf(run, 'x509 svid written');
    assert.equal(written.length, 3, 'start, bundle change, new SVID: a burst spread wider than the quiet period is two writes');
    assert.ok(written[2]! - signalled! >= 798, `the files stayed unchanged ${written[2]! - signalled!} ms after the signal (settle 800 ms)`);
  } finally {
    run.child.kill('SIGTERM');
    await run.result;
  }
});

test('figures: the delay update_quiet_period adds to a rotation', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const source = await devAgent(dir, { svidTtlSeconds: 3600, socketPath: join(dir, 'source.sock') });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const figures: string[] = [];
  for (const quiet of ['0s', '100ms']) {
    const run = startCli(['--config', writeConfig(dir, agent.address, `update_quiet_period = "${quiet}"\n`)]);
    const samples: number[] = [];
    try {
      await waitFor('the first write', () => timesOf(run, 'x509 svid written').length === 1);
      for (let i = 0; i < 9; i++) {
        await source.rotate();
        const msg = source.current()!;
        const started = performance.now();
        agent.pushX509(msg);
        await waitFor(`rotation ${i}`, () => serialIn(dir) === leafSerial(msg), 5_000, 1);
        samples.push(performance.now() - started);
      }
    } finally {
      run.child.kill('SIGTERM');
      await run.result;
    }
    figures.push(`update_quiet_period = ${quiet}: median ${median(samples).toFixed(1)} ms from push to svid.pem (${samples.map((s) => s.toFixed(0)).join(', ')})`);
  }
  console.log(`# rotation delay: ${figures.join('; ')}`);
});

test('three updates in a burst, then two during the settle period: two signals, each after the newest SVID is whole on disk', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = await wrapping(dir, agent, 'update_quiet_period = "200ms"\nrenew_settle_period = "1500ms"\n');
  try {
    const current = agent.current()!;
    const [bundleChange, second] = await doublePush(dir, current);
    const [, third] = await doublePush(dir, current);
    const [, fourth] = await doublePush(dir, current);
    const [, fifth] = await doublePush(dir, current);
    for (const m of [bundleChange, second, third]) {
      agent.pushX509(m);
      await delay(5);
    }
    await waitFor('the burst to be signalled', () => lines(join(dir, 'hup.log')).length === 1, 10_000);
    // Within the settle period: both wait for its end and become one write and one signal.
    agent.pushX509(fourth);
    await delay(5);
    agent.pushX509(fifth);
    await waitFor('the second signal', () => lines(join(dir, 'hup.log')).length === 2, 10_000);
    await delay(2000);
    assert.deepEqual(lines(join(dir, 'hup.log')), [leafSerial(third), leafSerial(fifth)], run.stderr());
    assert.equal(timesOf(run, 'x509 svid written').length, 3, `the first write, the burst, the settle-period updates:\n${run.stderr()}`);
  } finally {
    run.child.kill('SIGTERM');
    await run.result;
  }
});
