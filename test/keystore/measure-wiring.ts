/**
 * Prints what configuring a keystore and truststore costs the helper (not a test: figures, no
 * assertions), with and without stores in the same run so that both see the same machine load:
 * - start-up: `--once` of the shipped bundle against a dev agent, from spawn to exit (wall, and
 *   the child's CPU time), the two configs interleaved;
 * - rotation: one new SVID rendered and written (prepare + write of the X.509 writer), and an
 *   identical re-send (rendered, compared, not written).
 * Medians of N. Run: npm run build && node --import tsx test/keystore/measure-wiring.ts
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { x509Output } from '../output/fixtures/x509-output.js';
import { startDevAgent } from '../../src/dev/agent.js';
import { silentLogger } from '../../src/log.js';
import { storeRenderer } from '../../src/output/keystore-files.js';
import { X509Writer } from '../../src/output/x509-writer.js';
import { parseX509Bundle } from '../../src/spiffe/bundle.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { parseX509Svid } from '../../src/spiffe/x509svid.js';
import type { X509Context } from '../../src/spiffe/x509context.js';
import { svidChain } from '../helpers/certs.js';
import { password } from './password.js';

const N = Number(process.env.N ?? 9);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]): string => `${median(xs).toFixed(1)} ms`;
const dir = mkdtempSync('/tmp/ksm-');
const bundle = fileURLToPath(new URL('../../dist/bundle/cli.js', import.meta.url));

try {
  const agent = await startDevAgent({ socketPath: join(dir, 'a.sock'), intermediate: true });
  writeFileSync(join(dir, 'pw'), 'changeit');
  const base = `agent_address = "${agent.address}"\ncert_dir = "${dir}/certs"\nsvid_file_name = "s.pem"\nsvid_key_file_name = "k.pem"\nsvid_bundle_file_name = "b.pem"\n`;
  const configs = {
    'without stores': base,
    'with keystore + truststore': `${base}keystore_file_name = "ks.p12"\ntruststore_file_name = "ts.p12"\nkeystore_password_file = "${dir}/pw"\n`,
  };
  const hook = join(dir, 'cpu.cjs');
  writeFileSync(hook, `process.on('exit', () => { const u = process.cpuUsage(); require('fs').writeFileSync(${JSON.stringify(join(dir, 'cpu'))}, String((u.user + u.system) / 1000)); });\n`);
  const startup: Record<string, { wall: number[]; cpu: number[] }> = {};
  for (let i = 0; i < N + 1; i++) {
    for (const [name, text] of Object.entries(configs)) {
      const conf = join(dir, 'helper.conf');
      writeFileSync(conf, text);
      const t0 = performance.now();
      await promisify(execFile)(process.execPath, ['-r', hook, bundle, '--config', conf, '--once', '--timeout', '20s'], { env: { PATH: process.env.PATH } });
      const wall = performance.now() - t0;
      if (i === 0) continue; // warm-up: the page cache, the agent's first answers
      (startup[name] ??= { wall: [], cpu: [] }).wall.push(wall);
      startup[name].cpu.push(Number(readFileSync(join(dir, 'cpu'), 'utf8')));
    }
  }
  await agent.close();
  console.log(`start-up (--once against the dev agent, spawn to exit), median of ${N}:`);
  for (const [name, m] of Object.entries(startup)) console.log(`  ${name.padEnd(28)} wall ${fmt(m.wall)}, cpu ${fmt(m.cpu)}`);

  const out = x509Output({ svidFileName: 's.pem', keyFileName: 'k.pem', bundleFileName: 'b.pem' });
  const stores = {
    keystore: { fileName: 'ks.p12', alias: 'spiffe', password: password('changeit') },
    truststore: { fileName: 'ts.p12', password: password('changeit'), includeFederatedDomains: false },
    format: 'pkcs12' as const,
  };
  const contexts: X509Context[] = [];
  for (let i = 0; i < N + 1; i++) {
    const c = await svidChain('spiffe://example.org/w', { intermediate: true });
    const svid = parseX509Svid({ spiffeId: 'spiffe://example.org/w', chainDer: c.chainDer, keyDer: c.leaf.keyDer, hint: '' });
    contexts.push({
      svids: [svid],
      bundles: new Map([['example.org', parseX509Bundle(TrustDomain.parse('example.org'), c.root.der)]]),
      federatedBundles: new Map(),
      emptyFederatedDomains: [],
      ignoredFederated: [],
    });
  }
  const writers = {
    'without stores': new X509Writer(out, join(dir, 'w1'), silentLogger),
    'with keystore + truststore': new X509Writer(out, join(dir, 'w2'), silentLogger, undefined, [storeRenderer(stores, out, join(dir, 'w2'))]),
  };
  const rotation: Record<string, Record<string, { wall: number[]; cpu: number[] }>> = {};
  const timed = async (name: string, what: string, f: () => Promise<unknown>, keep: boolean): Promise<void> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (!keep) return;
    const m = ((rotation[what] ??= {})[name] ??= { wall: [], cpu: [] });
    m.wall.push(wall);
    m.cpu.push((c.user + c.system) / 1000);
  };
  for (const sub of ['w1', 'w2']) mkdirSync(join(dir, sub));
  for (let i = 0; i < N + 1; i++) {
    for (const [name, w] of Object.entries(writers)) {
      await timed(name, 'a rotation (new SVID: render + atomic write + fsync)', () => w.write(w.prepare(contexts[i]!)), i > 0);
      await timed(name, 'an identical re-send (render + compare, nothing written)', () => w.write(w.prepare(contexts[i]!)), i > 0);
    }
  }
  for (const [what, byName] of Object.entries(rotation)) {
    console.log(`${what}, median of ${N}:`);
    for (const [name, m] of Object.entries(byName)) console.log(`  ${name.padEnd(28)} wall ${fmt(m.wall)}, cpu ${fmt(m.cpu)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
