/**
 * What the shipped bundle loads: no gRPC or protobuf library in the helper's code (grpc-js is in
 * the dev agent's chunk only), and a one-shot run without `cmd`, JWT outputs or health checks
 * loads neither child processes nor fetch (undici) nor zlib, nor node:http2 (the gRPC client
 * speaks HTTP/2 itself over node:net: node:http2 alone costs ~9 MiB RSS and ~45 ms to load); a
 * built-in is loaded when the run first uses it, not when the bundle imports it. Checked on the
 * modules a real run loads, never on time.
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
  const others = readdirSync(bundleDir)
    .map((f) => join(bundleDir, f))
    .filter((f) => !graph.includes(f));
  assert.ok(
    others.some((f) => /node_modules\/@grpc\/grpc-js\//.test(readFileSync(f, 'utf8'))),
    'grpc-js in a chunk of its own',
  );
});

/** The built-in modules a run of the bundle loads, as process.moduleLoadList names them. */
async function loadedBy(dir: string, args: string[]): Promise<string[]> {
  const out = join(dir, `modules-${args.length}.json`);
  const hook = join(dir, 'modules.cjs');
  writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(process.env.MODULES_OUT, JSON.stringify(process.moduleLoadList)));\n`);
  // Not spawnSync: the agent runs in this process.
  await promisify(execFile)(process.execPath, ['-r', hook, entry, ...args], { env: { PATH: process.env.PATH, MODULES_OUT: out } });
  return JSON.parse(readFileSync(out, 'utf8'));
}

const absent = (loaded: string[], modules: string[]) => {
  for (const m of modules) assert.ok(!loaded.includes(`NativeModule ${m}`), `${m} loaded`);
};

test('a one-shot without cmd, JWT outputs or health checks loads no child_process, undici, zlib or http2', async (t) => {
  const dir = tempDir('fp-');
  const agent = await startDevAgent({ socketPath: join(dir, 'a.sock') });
  t.after(() => agent.close());
  const conf = join(dir, 'helper.conf');
  writeFileSync(conf, `agent_address = "${agent.address}"\ncert_dir = "${dir}/certs"\nsvid_file_name = "s.pem"\nsvid_key_file_name = "k.pem"\nsvid_bundle_file_name = "b.pem"\n`);
  const loaded = await loadedBy(dir, ['--config', conf, '--once', '--timeout', '20s']);
  assert.ok(loaded.includes('NativeModule net'), 'the gRPC client runs on node:net');
  absent(loaded, ['child_process', 'internal/deps/undici/undici', 'zlib', 'http2']);
  // What the ESM namespace of a built-in drags in by reading every export (node:util's and
  // node:fs's lazy getters, node:crypto's webcrypto): scripts/bundle.mjs takes built-ins with
  // process.getBuiltinModule instead.
  absent(loaded, ['worker_threads', 'internal/worker', 'tty', 'internal/crypto/webcrypto', 'internal/util/diff', 'internal/fs/streams']);
});

test('--version loads no built-in beyond what writing to stdout needs: no crypto, fs/promises or worker_threads', async () => {
  const loaded = await loadedBy(tempDir('fp-'), ['--version']);
  absent(loaded, ['crypto', 'fs/promises', 'internal/readline/interface', 'os', 'worker_threads', 'internal/crypto/webcrypto']);
});
