#!/usr/bin/env node
// npm run bundle (after npm run build): dist/cli.js and everything it imports, node_modules
// included, as one ESM file, dist/bundle/spiffe-helper.mjs, beside the JSON descriptor it loads.
// One file to read and compile instead of ~150 modules: about 50 ms less for a one-shot run
// (docs/BENCHMARKS.md). Run it as `node dist/bundle/spiffe-helper.mjs ...`: same flags, same
// behaviour. bench/run.mjs builds one the same way to measure it.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export async function buildBundle(cli, outfile) {
  const { build } = await import('esbuild');
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [cli],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // grpc-js and other CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  // proto.ts loads the descriptor from beside itself, i.e. from beside the bundle.
  copyFileSync(join(dirname(cli), 'workload', 'workload.json'), join(dirname(outfile), 'workload.json'));
  return outfile;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  console.log(await buildBundle(join(dist, 'cli.js'), join(dist, 'bundle', 'spiffe-helper.mjs')));
}
