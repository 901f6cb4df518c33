// Part of `npm run build`, after tsc: dist/cli.js and everything it imports, node_modules
// included, as ESM files in dist/bundle/: dist/bundle/cli.js, plus chunks that only the
// subcommands load (the dev agent's certificate library, inspect, convert-config). This is what
// bin/spiffe-helper and the container image run: one file to read and compile for the helper
// instead of ~150 modules (about 50 ms less start-up, docs/BENCHMARKS.md), and no node_modules
// needed at run time. `node dist/cli.js` runs the same code unbundled (the tests use it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeNotices } from './notices.mjs';

// Every Node built-in is taken with process.getBuiltinModule, as a CommonJS module of the bundle,
// never with an ESM import. The ESM namespace of a built-in reads each of its exports when it is
// made, so the lazy getters fire: `import { readFileSync } from 'node:fs'` evaluates fs.promises
// (fs/promises, readline, the REPL's history, streams), node:util's pull in worker_threads, and
// so on: 34 modules for node:fs where require() loads 3. esbuild's CommonJS interop copies the
// exports as getters without calling them, so a run loads only the built-ins and the parts of
// them that it uses. Imports that were dynamic stay dynamic (the module is only fetched when
// the import() runs); CommonJS dependencies' require('fs') go the same way.
const builtinNames = new Set(builtinModules);
const TARGET_NODE = 24;
// The getters are named at build time, so the Node running the build must know every name the
// shipped one exports (Node 20 lacks e.g. fs.glob, util.getCallSites): run as a script by an
// older Node (`npm ci` on a machine whose node is Debian's), this file runs itself again on the
// pinned Node (scripts/with-node.sh).
const buildNodeOk = Number(process.versions.node.split('.')[0]) >= TARGET_NODE;
const builtins = {
  name: 'builtins-on-demand',
  setup(build) {
    build.onResolve({ filter: /^[a-z_]/ }, ({ path }) => {
      const name = path.startsWith('node:') ? path : builtinNames.has(path) ? `node:${path}` : undefined;
      return name === undefined ? undefined : { path: name, namespace: 'builtin' };
    });
    // Its exports are getters that load the built-in when first read: a run that never calls
    // into node:crypto (`--version`, `--help`) does not pay the ~15 ms its modules take. A
    // built-in that is itself a function (node:events, node:assert, node:stream) is used as
    // one (`extends EventEmitter`), so it is taken as it is.
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, ({ path }) => {
      const id = JSON.stringify(path);
      const builtin = process.getBuiltinModule(path);
      if (typeof builtin === 'function') return { contents: `module.exports = process.getBuiltinModule(${id});`, loader: 'js' };
      // The names as the Node running the build has them; listing them calls no getter.
      const names = JSON.stringify(Object.getOwnPropertyNames(builtin));
      return {
        contents: `let m;\nconst load = () => (m ??= process.getBuiltinModule(${id}));\nfor (const k of ${names}) Object.defineProperty(exports, k, { get: () => load()[k], enumerable: true });`,
        loader: 'js',
      };
    });
  },
};

export async function buildBundle(cli, outdir) {
  if (!buildNodeOk) throw new Error(`the bundle is built by Node ${TARGET_NODE} or newer (this is ${process.version}): it names the built-ins' exports as that Node has them`);
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
    target: `node${TARGET_NODE}`,
    // src/version.ts: the version is part of the bundle, not read from package.json at run time.
    define: { SPIFFE_HELPER_VERSION: JSON.stringify(version) },
    // Its inputs name the third-party packages bundled, for the notices file.
    metafile: true,
    plugins: [builtins],
    logLevel: 'warning',
  });
  // No chunk has a `require` (a createRequire banner cost every chunk a Module object at start-up):
  // the CommonJS dependencies' require() calls are bundled, built-ins included. One esbuild
  // could not resolve would only fail when it runs, so it fails the build.
  for (const file of Object.keys(metafile.outputs)) {
    if (readFileSync(file, 'utf8').includes('Dynamic require of')) throw new Error(`${file}: a require() esbuild could not bundle`);
  }
  writeNotices(metafile, outdir);
  return join(outdir, 'cli.js');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && !buildNodeOk) {
  const withNode = fileURLToPath(new URL('./with-node.sh', import.meta.url));
  const r = spawnSync('bash', [withNode, 'node', fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  await buildBundle(join(dist, 'cli.js'), join(dist, 'bundle'));
}
