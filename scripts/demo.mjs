#!/usr/bin/env node
// The whole job in under a minute, no SPIRE needed: starts the built-in development agent,
// runs spiffe-helper against it in daemon mode, and shows the files appearing and rotating.
// Both run as bin/spiffe-helper, the command users install.
// Usage: npm run demo [-- --seconds 45]
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const command = join(root, 'bin', 'spiffe-helper');
const secondsArg = process.argv.indexOf('--seconds');
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 35;
const work = '/tmp/spiffe-helper-demo';
const socket = join(work, 'agent.sock');
const certDir = join(work, 'certs');

if (!existsSync(join(root, 'dist', 'bundle', 'cli.js'))) {
  console.error('dist/bundle/cli.js is missing: run `npm ci` (it builds) or `npm run build` first');
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
writeFileSync(
  join(work, 'helper.conf'),
  `agent_address = "unix://${socket}"
cert_dir = "${certDir}"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "bundle.pem"
`,
);

const children = [];
const run = (args) => {
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  return child;
};
const stop = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

console.log(`demo: dev agent on ${socket}, SVID TTL 10s (rotates every ~5s); files in ${certDir}; ${seconds}s`);
run(['dev-agent', '--socket', socket, '--ttl', '10s', '--intermediate']);
while (!existsSync(socket)) await new Promise((r) => setTimeout(r, 50));
const helper = run(['--config', join(work, 'helper.conf')]);

const serials = new Set();
const show = () => {
  try {
    const pem = readFileSync(join(certDir, 'svid.pem'), 'utf8');
    const cert = new X509Certificate(pem);
    if (serials.has(cert.serialNumber)) return;
    serials.add(cert.serialNumber);
    console.log(`demo: svid.pem now holds ${cert.subjectAltName} serial ${cert.serialNumber} valid until ${cert.validTo}`);
  } catch {
    // mid-rotation or not written yet: the next event shows it
  }
};
while (!existsSync(certDir)) await new Promise((r) => setTimeout(r, 50));
const watcher = watch(certDir, show);
show();
await new Promise((r) => setTimeout(r, seconds * 1000));
watcher.close();
stop();
await new Promise((r) => helper.once('exit', r));
console.log(`demo: done — ${serials.size} distinct certificates were written (the first, then ${serials.size - 1} rotations)`);
process.exit(serials.size >= 2 ? 0 : 1);
