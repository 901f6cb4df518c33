/**
 * Prints what the keystore encoder costs (not a test: figures, no assertions), for
 * docs/keystores.md: the import of the built module in a fresh process, then encode and read
 * times per store type and format (wall and CPU, median of N after a warm-up).
 * Run: npm run build && node --import tsx test/keystore/measure.ts
 */
import { execFileSync } from 'node:child_process';
import { svidChain } from '../helpers/certs.js';

const N = Number(process.env.N ?? 21);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const loads = (module: string): number[] =>
  Array.from({ length: 9 }, () =>
    Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(module)}); console.log(performance.now() - t)`], { encoding: 'utf8' }),
    ),
  );
const crypto = median(loads('node:crypto'));
const pkcs12Url = new URL('../../dist/keystore/pkcs12.js', import.meta.url).href;
const ours = median(loads(pkcs12Url));
console.log(`import node:crypto alone ${crypto.toFixed(1)} ms; dist/keystore/pkcs12.js (with node:crypto) ${ours.toFixed(1)} ms`);

// The built modules are what is measured; dist has no declarations, so they are typed as the sources they are compiled from.
const { encodeKeystore, encodeTruststore, trustDomainCertificates } = (await import(pkcs12Url)) as typeof import('../../src/keystore/pkcs12.js');
const { readPkcs12 } = (await import(new URL('../../dist/keystore/read.js', import.meta.url).href)) as typeof import('../../src/keystore/read.js');

function time(name: string, f: () => unknown): void {
  f();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < N; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  console.log(`${name.padEnd(40)} wall ${median(wall).toFixed(1)} ms, cpu ${median(cpu).toFixed(1)} ms`);
}

const password = 'changeit';
for (const keyType of ['ec-p256', 'rsa-2048'] as const) {
  const c = await svidChain('spiffe://example.org/w', { keyType, intermediate: true });
  const entry = { alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der, c.inter!.der] };
  const trust = trustDomainCertificates('example.org', [c.root.der]);
  for (const format of ['aes256-sha256', 'legacy-3des-sha1'] as const) {
    time(`keystore ${keyType} ${format}`, () => encodeKeystore(entry, { password, format }));
    time(`truststore ${format}`, () => encodeTruststore(trust, { password, format }));
  }
  const ks = encodeKeystore(entry, { password });
  time(`read + verify keystore ${keyType}`, () => readPkcs12(ks, password));
}
