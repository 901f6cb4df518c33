// Part of `npm run build`, after tsc: dist/cli.js and everything it imports, node_modules
// included, as ESM files in dist/bundle/: dist/bundle/cli.js, plus chunks that only the
// subcommands load (the dev agent's certificate library, inspect, convert-config). This is what
// bin/spiffe-helper and the container image run: one file to read and compile for the helper
// instead of ~150 modules (about 50 ms less start-up, docs/BENCHMARKS.md), and no node_modules
// needed at run time. `node dist/cli.js` runs the same code unbundled (the tests use it).
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeNotices } from './notices.mjs';

export async function buildBundle(cli, outdir) {
  const { build } = await import('esbuild');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const { metafile } = await build({
    entryPoints: [cli],
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: '[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // src/version.ts: the version is part of the bundle, not read from package.json at run time.
    define: { SPIFFE_HELPER_VERSION: JSON.stringify(version) },
    // Its inputs name the third-party packages bundled, for the notices file.
    metafile: true,
    logLevel: 'warning',
    // CommonJS dependencies (grpc-js in the dev agent's chunk) call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  writeNotices(metafile, outdir);
  return join(outdir, 'cli.js');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  await buildBundle(join(dist, 'cli.js'), join(dist, 'bundle'));
}
