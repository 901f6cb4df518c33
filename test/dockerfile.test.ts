import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { devAgent } from './helpers/dev-agent.js';
import { last, pinnedNodeVersion, readDockerfile, type Stage } from './helpers/dockerfile.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The Dockerfile, exercised without a Docker engine: its build stage's COPY and RUN steps are
 * performed in a clean directory, its runtime stage's COPY --from=build steps assemble the
 * runtime tree, and that tree runs against the dev agent the way the ENTRYPOINT runs it.
 * What this cannot do: pull the base images (their Node binary is stood in for by the one
 * scripts/node.sh installs, which the build stage's tag must name), run apt-get in the tini
 * stage, or start tini; image sizes are not measured here (see README, Container image).
 */
const repo = fileURLToPath(new URL('..', import.meta.url));
const STEP_TIMEOUT_MS = 240_000;

function run(cmd: string, cwd: string): void {
  const r = spawnSync('sh', ['-c', cmd], {
    cwd,
    encoding: 'utf8',
    timeout: STEP_TIMEOUT_MS,
    // From the local cache when it has the packages; the registry otherwise.
    env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  });
  assert.equal(r.status, 0, `RUN ${cmd} failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
}

/** Performs a build stage in `root` (standing for its WORKDIR); returns that WORKDIR's path in the image. */
function build(stage: Stage, root: string): string {
  let workdir = '/';
  for (const i of stage.instructions) {
    switch (i.op) {
      case 'WORKDIR':
        workdir = posix.resolve(workdir, i.args);
        break;
      case 'COPY': {
        assert.equal(i.flags['from'], undefined, 'the build stage copies from the build context only');
        const parts = i.args.split(/\s+/);
        const dest = parts.pop()!;
        for (const src of parts) {
          const target = dest.endsWith('/') ? join(root, dest, posix.basename(src)) : join(root, dest);
          cpSync(join(repo, src), target, { recursive: true });
        }
        break;
      }
      case 'RUN':
        // Only steps this test can perform faithfully: npm and node commands.
        assert.match(i.args, /^(npm|node) [^;|]*(&& (npm|node) [^;|]*)*$/, `RUN ${i.args}: teach test/dockerfile.test.ts this build step`);
        run(i.args, root);
        break;
      case 'ENV':
      case 'ARG':
        assert.fail(`${i.op} in the build stage: teach test/dockerfile.test.ts to apply it`);
        break;
      default:
        break;
    }
  }
  return workdir;
}

function bytes(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((n, name) => n + bytes(join(path, name)), 0);
}

/** Asynchronous: the dev agent answers from this process, whose event loop must keep running. */
function launch(cmd: string, args: string[], cwd?: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.on('close', (code) => (clearTimeout(timer), resolve({ code, out }))));
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

test('the Dockerfile build steps produce a runtime tree that fetches an SVID from the dev agent', { timeout: 2 * STEP_TIMEOUT_MS }, async (t) => {
  const stages = readDockerfile();
  const buildStage = stages.find((s) => s.name === 'build');
  assert.ok(buildStage, 'a stage named build');
  const runtime = stages[stages.length - 1]!;
  assert.notEqual(runtime, buildStage);

  const dir = tempDir('sh-docker-');
  const buildRoot = join(dir, 'src');
  mkdirSync(buildRoot);
  const started = performance.now();
  const buildWorkdir = build(buildStage, buildRoot);
  const buildMs = performance.now() - started;

  // The runtime stage: COPY --from lines, relative to the WORKDIR in force.
  const nodeVersion = pinnedNodeVersion();
  assert.match(buildStage.from, new RegExp(`^node:${nodeVersion.replaceAll('.', '\\.')}-`), `the build stage's Node is the pinned ${nodeVersion} (scripts/node.sh)`);
  assert.ok(!/^node:/.test(runtime.from), `the runtime base ${runtime.from} is not the node image (npm, yarn and corepack)`);
  const pinnedNode = join(spawnSync('bash', [join(repo, 'scripts', 'node.sh')], { encoding: 'utf8' }).stdout.trim(), 'node');
  const runtimeRoot = join(dir, 'runtime');
  let workdir = '/';
  let appDir: string | undefined;
  const copied: string[] = [];
  const fromBase = new Map<string, string>();
  for (const i of runtime.instructions) {
    if (i.op === 'WORKDIR') workdir = posix.resolve(workdir, i.args);
    if (i.op !== 'COPY') continue;
    const [src, dest] = i.args.split(/\s+/) as [string, string];
    const to = posix.resolve(workdir, dest.endsWith('/') ? posix.join(dest, posix.basename(src)) : dest);
    if (i.flags['from'] !== 'build' || !src.startsWith(`${buildWorkdir}/`)) {
      // Files of a base image, not of our build: the node image's binary, Debian's tini.
      fromBase.set(`${i.flags['from']}:${src}`, to);
      continue;
    }
    const from = join(buildRoot, posix.relative(buildWorkdir, src));
    assert.ok(existsSync(from), `COPY --from=build ${src}: the build did not produce it`);
    cpSync(from, join(runtimeRoot, to), { recursive: true });
    copied.push(join(runtimeRoot, to));
    appDir ??= workdir;
  }
  assert.deepEqual([...fromBase.keys()].sort(), ['build:/usr/local/bin/node', 'tini:/usr/bin/tini-static'], 'only node and tini come from base images');
  const tiniStage = stages.find((st) => st.name === 'tini');
  assert.match(tiniStage?.instructions.find((i) => i.op === 'RUN')?.args ?? '', /apt-get install -y --no-install-recommends tini\b/, "tini-static is Debian's tini package");
  // distroless cc provides glibc, libgcc_s and libstdc++: all that the node binary links.
  const linked = spawnSync('ldd', [pinnedNode], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.trim().split(/\s/)[0]!)
    .filter(Boolean);
  for (const lib of linked) assert.match(lib, /^(linux-vdso\.so|\/lib64\/ld-linux|lib(c|m|dl|pthread|rt|gcc_s|stdc\+\+)\.so)/, `node links ${lib}, which ${runtime.from} may not have`);
  const nodeInImage = fromBase.get('build:/usr/local/bin/node')!;
  mkdirSync(join(runtimeRoot, posix.dirname(nodeInImage)), { recursive: true });
  symlinkSync(pinnedNode, join(runtimeRoot, nodeInImage));

  // Image metadata: a numeric user, OCI labels (the version is package.json's).
  assert.match(last(runtime, 'USER')?.args ?? '', /^\d+:\d+$/, 'a numeric non-root user and group');
  assert.notEqual(last(runtime, 'USER')?.args.split(':')[0], '0');
  const labels = runtime.instructions
    .filter((i) => i.op === 'LABEL')
    .map((i) => i.args)
    .join(' ');
  const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  for (const key of ['title', 'description', 'licenses', 'base.name'])
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key.replace('.', '\\.')}=`), `LABEL org.opencontainers.image.${key}`);
  assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.version="${version.replaceAll('.', '\\.')}"`), "the version label is package.json's");
  assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.base\\.name="${runtime.from.replace(/[.:/]/g, (c) => `\\${c}`)}"`));

  // The exec-form ENTRYPOINT: tini, then node on the bundle, at their places in the runtime tree.
  const entrypoint = last(runtime, 'ENTRYPOINT')?.exec ?? [];
  assert.deepEqual(entrypoint.slice(0, 2), [fromBase.get('tini:/usr/bin/tini-static'), '--']);
  const [nodePath, ...nodeArgs] = entrypoint.slice(2);
  assert.equal(nodePath, nodeInImage);
  const launcher = join(runtimeRoot, nodePath!);
  const cli = nodeArgs.pop()!;
  const launcherArgs = [...nodeArgs, join(runtimeRoot, cli)];
  assert.ok(existsSync(join(runtimeRoot, cli)), `${cli} is in the runtime tree`);
  assert.ok(!existsSync(join(runtimeRoot, appDir!, 'node_modules')), 'the bundle needs no node_modules');
  for (const f of ['LICENSE', 'NOTICE', 'dist/bundle/THIRD-PARTY-NOTICES.txt']) assert.ok(existsSync(join(runtimeRoot, appDir!, f)), `${f} is in the image`);

  const sizes = copied.map((p) => `${posix.basename(p)} ${mib(bytes(p))}`);
  const total = copied.reduce((n, p) => n + bytes(p), 0);
  const du = spawnSync('du', ['-sk', ...copied], { encoding: 'utf8' });
  const duKib = du.stdout
    .split('\n')
    .filter(Boolean)
    .reduce((n, l) => n + Number(l.split('\t')[0]), 0);
  t.diagnostic(`runtime stage copies ${mib(total)} (du: ${mib(duKib * 1024)}): ${sizes.join(', ')}; build steps took ${(buildMs / 1000).toFixed(1)} s`);

  // Run it as the ENTRYPOINT does (tini aside), from the image's final WORKDIR holding helper.conf.
  const agent = await devAgent(dir);
  const etc = join(runtimeRoot, workdir);
  mkdirSync(etc, { recursive: true });
  writeFileSync(
    join(etc, 'helper.conf'),
    `agent_address = "${agent.address}"\ncert_dir = "${join(dir, 'certs')}"\nsvid_file_name = "svid.pem"\nsvid_key_file_name = "svid_key.pem"\nsvid_bundle_file_name = "bundle.pem"\n`,
  );
  const r = await launch(launcher, [...launcherArgs, '--once', '--timeout', '20s'], etc);
  assert.equal(r.code, 0, r.out);
  const v = await launch(launcher, ['--version']);
  assert.equal(v.out.trim(), `v${nodeVersion}`, 'the Node in the runtime tree is the pinned one');
  for (const f of ['svid.pem', 'svid_key.pem', 'bundle.pem']) assert.ok(existsSync(join(dir, 'certs', f)), f);
  const inspect = await launch(launcher, [...launcherArgs, 'inspect', '--config', join(etc, 'helper.conf')]);
  assert.equal(inspect.code, 0, inspect.out);
});
