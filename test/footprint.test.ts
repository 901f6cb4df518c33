/**
 * What the shipped bundle loads: no gRPC or protobuf library in the helper's code (grpc-js is in
 * the dev agent's chunk only), and a one-shot run without `cmd`, JWT outputs or health checks
 * loads neither child processes nor fetch (undici) nor zlib, nor node:http2 (the gRPC client
 * speaks HTTP/2 itself over node:net: node:http2 alone costs ~9 MiB RSS and ~45 ms to load). Checked on the modules a real run
 * loads, never on time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { startDevAgent } from '../src/dev/agent.js';
import { tempDir } from './helpers/tmp.js';

const bundleDir = fileURLToPath(new URL('../dist/bundle/', import.meta.url));
const entry = join(bundleDir, 'cli.js');

/** The entry and every chunk it imports statically (what any run loads). */
function staticGraph(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(/^import .*?from "(\.\/[^"]+)";?$/gm)) staticGraph(join(bundleDir, m[1]!), seen);
  return seen;
}

test('the helper bundle holds no gRPC or protobuf library; the dev agent chunk holds grpc-js', () => {
  const graph = [...staticGraph(entry)];
  for (const f of graph) assert.doesNotMatch(readFileSync(f, 'utf8'), /node_modules\/(@grpc\/grpc-js|protobufjs|@grpc\/proto-loader)\//, f);
  const others = readdirSync(bundleDir).map((f) => join(bundleDir, f)).filter((f) => !graph.includes(f));
  assert.ok(others.some((f) => /node_modules\/@grpc\/grpc-js\//.test(readFileSync(f, 'utf8'))), 'grpc-js in a chunk of its own');
});

test('a one-shot without cmd, JWT outputs or health checks loads no child_process, undici, zlib or http2', async (t) => {
  const dir = tempDir('fp-');
  const agent = await startDevAgent({ socketPath: join(dir, 'a.sock') });
  t.after(() => agent.close());
  const conf = join(dir, 'helper.conf');
  writeFileSync(conf, `agent_address = "${agent.address}"\ncert_dir = "${dir}/certs"\nsvid_file_name = "s.pem"\nsvid_key_file_name = "k.pem"\nsvid_bundle_file_name = "b.pem"\n`);
  const hook = join(dir, 'modules.cjs');
  writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'modules.json'))}, JSON.stringify(process.moduleLoadList)));\n`);
  // Not spawnSync: the agent runs in this process.
  await promisify(execFile)(process.execPath, ['-r', hook, entry, '--config', conf, '--once', '--timeout', '20s'], { env: { PATH: process.env.PATH } });
  const loaded: string[] = JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8'));
  assert.ok(loaded.includes('NativeModule net'), 'the gRPC client runs on node:net');
  for (const m of ['NativeModule child_process', 'NativeModule internal/deps/undici/undici', 'NativeModule zlib', 'NativeModule http2']) assert.ok(!loaded.includes(m), `${m} loaded`);
});
