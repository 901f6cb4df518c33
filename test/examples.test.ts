import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { Config } from '../src/config/config.js';
import { configFromEnv, parseConfig } from '../src/config/load.js';
import { cliPath } from './helpers/cli.js';
import { last, launcherDaemonFlags, readDockerfile } from './helpers/dockerfile.js';
import { goBuild } from './helpers/go-build.js';

/**
 * The examples are documentation that must keep working: every manifest is parsed, and what
 * has to line up between the helper's config, the Pod spec and the image is checked.
 */
const examples = fileURLToPath(new URL('../examples/', import.meta.url));

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

/** What the image runs: ENTRYPOINT, CMD, and the working directory the config is read from. */
function image() {
  const stages = readDockerfile();
  const runtime = stages[stages.length - 1]!;
  const entrypoint = last(runtime, 'ENTRYPOINT')?.exec;
  assert.ok(entrypoint, 'the runtime stage has an exec-form ENTRYPOINT');
  // Where each COPY landed, following WORKDIR as it changes.
  let workdir = '/';
  const copied = new Map<string, string>();
  for (const i of runtime.instructions) {
    if (i.op === 'WORKDIR') workdir = posix.resolve(workdir, i.args);
    if (i.op === 'COPY') {
      const parts = i.args.split(/\s+/);
      const dest = posix.resolve(workdir, parts.pop()!);
      for (const src of parts) copied.set(posix.basename(src), dest.endsWith('/') || parts.length > 1 ? posix.join(dest, posix.basename(src)) : dest);
    }
  }
  return { entrypoint, cmd: last(runtime, 'CMD')?.exec, workdir, copied, user: last(runtime, 'USER')?.args };
}

function podSpecs(doc: Obj): Obj[] {
  switch (doc['kind']) {
    case 'Pod':
      return [doc['spec']];
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      return [doc['spec']['template']['spec']];
    case 'CronJob':
      return [doc['spec']['jobTemplate']['spec']['template']['spec']];
    default:
      return [];
  }
}

function readManifests(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return docs
    .map((d) => {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      return d.toJS() as Obj;
    })
    .filter((d) => d !== null);
}

/** The mount of `container` whose path holds `path`, and its volume. */
function mountHolding(spec: Obj, container: Obj, path: string): { mount: Obj; volume: Obj } | undefined {
  const mounts = ((container['volumeMounts'] ?? []) as Obj[]).filter((m) => path === m['mountPath'] || !relative(m['mountPath'], path).startsWith('..'));
  const mount = mounts.sort((a, b) => b['mountPath'].length - a['mountPath'].length)[0];
  if (!mount) return undefined;
  return { mount, volume: (spec['volumes'] as Obj[]).find((v) => v['name'] === mount['name'])! };
}

function envOf(container: Obj, where: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const e of (container['env'] ?? []) as Obj[]) {
    assert.equal(typeof e['value'], 'string', `${where}: env ${e['name']} must be a literal string (the test loads the config from it)`);
    env[e['name']] = e['value'];
  }
  return env;
}

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i === -1) return undefined;
  return args[i]!.includes('=') ? args[i]!.split('=').slice(1).join('=') : args[i + 1];
}

/** Our CLI accepts these arguments (it parses them before --help answers). */
function assertCliAccepts(args: string[], where: string): void {
  const r = spawnSync(process.execPath, [cliPath, ...args, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${where}: spiffe-helper rejects its arguments ${JSON.stringify(args)}: ${r.stderr}`);
}

function checkHelper(file: string, docs: Obj[], spec: Obj, helper: Obj, initContainer: boolean): void {
  const where = `${basename(file)}: container ${helper['name']}`;
  const img = image();
  const args: string[] = helper['args'] ?? img.cmd ?? [];
  if (helper['command'] !== undefined) {
    // A one-shot may drop the daemon's V8 flags, as bin/spiffe-helper does.
    const flags = new Set(launcherDaemonFlags());
    const allowed = [img.entrypoint, ...(args.includes('--once') ? [img.entrypoint.filter((a) => !flags.has(a))] : [])];
    assert.ok(
      allowed.some((c) => JSON.stringify(c) === JSON.stringify(helper['command'])),
      `${where}: command must be the image's ENTRYPOINT (without the daemon flags for --once), or be left out`,
    );
  }
  // Every helper container says what it needs: the scheduler places it, the kubelet bounds it.
  const resources = helper['resources'] ?? {};
  for (const key of ['requests.cpu', 'requests.memory', 'limits.memory']) {
    const [k, r] = key.split('.') as [string, string];
    assert.ok(resources[k]?.[r], `${where}: resources.${key} is not set`);
  }
  assertCliAccepts(args, where);
  // The kubelet can check runAsNonRoot only against a numeric user.
  if (helper['securityContext']?.['runAsNonRoot'] && !/^\d+(:\d+)?$/.test(img.user ?? '')) {
    assert.equal(typeof helper['securityContext']['runAsUser'], 'number', `${where}: runAsNonRoot with the image's USER ${img.user} needs a numeric runAsUser`);
  }

  // The config: --config, else ./helper.conf in the image's WORKDIR, else the environment.
  const env = envOf(helper, where);
  const configPath = flagValue(args, '--config') ?? posix.join(img.workdir, 'helper.conf');
  const holder = mountHolding(spec, helper, configPath);
  let config: Config;
  if (holder) {
    const cmName = holder.volume['configMap']?.['name'];
    assert.ok(cmName, `${where}: ${configPath} comes from volume ${holder.volume['name']}, which is not a ConfigMap`);
    const cm = docs.find((d) => d['kind'] === 'ConfigMap' && d['metadata']['name'] === cmName);
    assert.ok(cm, `${where}: ConfigMap ${cmName} is not in ${basename(file)}`);
    const key = relative(holder.mount['mountPath'], configPath);
    const text = cm['data']?.[key];
    assert.equal(typeof text, 'string', `${where}: ConfigMap ${cmName} has no key ${key}`);
    config = parseConfig(text, `${basename(file)}#${cmName}/${key}`, env);
  } else {
    assert.equal(flagValue(args, '--config'), undefined, `${where}: --config ${configPath} is on no volume`);
    config = configFromEnv(env);
  }

  // Native sidecar (daemon) or one-shot init container.
  const once = args.includes('--once') || flagValue(args, '--daemon-mode') === 'false' || (!args.includes('--daemon-mode') && !config.daemonMode);
  if (once) {
    assert.ok(initContainer && helper['restartPolicy'] === undefined, `${where}: a one-shot helper is a plain init container`);
    for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.equal(helper[p], undefined, `${where}: a one-shot init container has no ${p}`);
  } else {
    assert.ok(initContainer && helper['restartPolicy'] === 'Always', `${where}: the daemon runs as a native sidecar (init container, restartPolicy: Always)`);
  }

  // The agent socket is on a volume that brings it in: the SPIFFE CSI driver or a hostPath.
  assert.equal(config.agentAddress.kind, 'unix', `${where}: agent address ${config.agentAddress.target}`);
  const socket = (config.agentAddress as { socketPath: string }).socketPath;
  const agentVolume = mountHolding(spec, helper, socket);
  assert.ok(agentVolume, `${where}: the agent socket ${socket} is on no volume mount`);
  assert.equal(dirname(socket), agentVolume.mount['mountPath'], `${where}: the agent socket's directory is the mount`);
  const v = agentVolume.volume;
  assert.ok(v['csi']?.['driver'] === 'csi.spiffe.io' || v['hostPath'], `${where}: the agent socket volume is csi.spiffe.io or a hostPath, not ${JSON.stringify(v)}`);

  // cert_dir is exactly a writable emptyDir mount, which the application mounts too.
  const certs = ((helper['volumeMounts'] ?? []) as Obj[]).find((m) => m['mountPath'] === config.certDir);
  assert.ok(certs, `${where}: cert_dir ${config.certDir} is not a mountPath`);
  assert.notEqual(certs['readOnly'], true, `${where}: cert_dir is mounted read-only`);
  assert.ok((spec['volumes'] as Obj[]).find((x) => x['name'] === certs['name'])?.['emptyDir'], `${where}: cert_dir is an emptyDir`);
  const outputs = [config.x509?.svidFileName, config.x509?.keyFileName, config.x509?.bundleFileName, config.jwtBundleFileName, ...config.jwtSvids.map((j) => j.fileName)].filter(
    (n) => n !== undefined,
  );
  const apps = (spec['containers'] as Obj[]).filter((c) => c !== helper);
  assert.ok(apps.length > 0);
  for (const app of apps) {
    const appMount: Obj | undefined = ((app['volumeMounts'] ?? []) as Obj[]).find((m) => m['name'] === certs['name']);
    assert.ok(appMount, `${basename(file)}: container ${app['name']} does not mount the certificates volume ${certs['name']}`);
    assert.equal(appMount['readOnly'], true, `${basename(file)}: container ${app['name']} mounts the certificates read-write`);
    // The application can read what it is given: other-readable, or group-readable with the
    // pod's fsGroup (the emptyDir's setgid group), or the same user as the helper.
    const modes: [string | undefined, number][] = [
      [config.x509?.svidFileName, config.x509?.certFileMode ?? 0],
      [config.x509?.bundleFileName, config.x509?.certFileMode ?? 0],
      [config.x509?.keyFileName, config.x509?.keyFileMode ?? 0],
      [config.jwtBundleFileName, config.jwtBundleFileMode],
      ...config.jwtSvids.map((j): [string, number] => [j.fileName, config.jwtSvidFileMode]),
    ];
    const sameUser = app['securityContext']?.['runAsUser'] !== undefined && app['securityContext']['runAsUser'] === helper['securityContext']?.['runAsUser'];
    for (const [name, mode] of modes) {
      if (name === undefined || sameUser || mode & 0o004) continue;
      assert.ok(
        mode & 0o040 && spec['securityContext']?.['fsGroup'] !== undefined,
        `${basename(file)}: container ${app['name']} cannot read ${name} (mode 0o${mode.toString(8)}): make it group-readable and set the pod's fsGroup`,
      );
    }
    // Paths the application is given to a file the helper writes must be in that mount.
    const strings = [...((app['args'] ?? []) as string[]), ...((app['env'] ?? []) as Obj[]).map((e) => e['value'] as string)];
    for (const s of strings.filter((x) => typeof x === 'string' && isAbsolute(x) && outputs.includes(basename(x)))) {
      assert.equal(dirname(s), appMount['mountPath'], `${basename(file)}: container ${app['name']} reads ${s}, but the helper's files are at ${appMount['mountPath']}`);
    }
  }

  // Probes: the kubelet reaches the pod's IP, on bind_port, at the configured paths.
  if (once) return;
  assert.ok(config.health.enabled, `${where}: a sidecar without health listener cannot gate the application's start`);
  assert.ok(!['127.0.0.1', '::1', 'localhost'].includes(config.health.bindAddress), `${where}: bind_address ${config.health.bindAddress} is not reachable by the kubelet`);
  const ports = (helper['ports'] ?? []) as Obj[];
  assert.ok(
    ports.some((p) => p['containerPort'] === config.health.port),
    `${where}: containerPort ${config.health.port} is not declared`,
  );
  const paths = { startupProbe: config.health.readinessPath, readinessProbe: config.health.readinessPath, livenessProbe: config.health.livenessPath };
  assert.ok(helper['startupProbe'] && helper['readinessProbe'], `${where}: startup and readiness probes hold the application back until the SVID is on disk`);
  for (const [probe, path] of Object.entries(paths)) {
    const get = helper[probe]?.['httpGet'];
    if (!get) continue;
    const port = typeof get['port'] === 'string' ? ports.find((p) => p['name'] === get['port'])?.['containerPort'] : get['port'];
    assert.equal(port, config.health.port, `${where}: ${probe} port is bind_port`);
    assert.equal(get['path'], path, `${where}: ${probe} path`);
  }
}

const manifests = readdirSync(join(examples, 'kubernetes')).filter((f) => /\.ya?ml$/.test(f));

test("the image: ENTRYPOINT runs the bundle under tini with the launcher's daemon flags, node and bundle where the runtime stage copies them", () => {
  const img = image();
  assert.equal(img.entrypoint[0], '/usr/bin/tini', 'an init as PID 1');
  assert.equal(img.entrypoint[1], '--');
  const [node, ...rest] = img.entrypoint.slice(2);
  assert.equal(img.copied.get('node'), node, `ENTRYPOINT runs ${node}, which the runtime stage copies`);
  assert.equal(img.copied.get('tini-static'), '/usr/bin/tini');
  const cli = rest.pop()!;
  assert.deepEqual(rest, launcherDaemonFlags(), 'the V8 flags of bin/spiffe-helper (no shell in the image to run it)');
  assert.equal(cli, posix.join(img.copied.get('bundle')!, 'cli.js'));
  assert.ok(!img.copied.has('node_modules'), 'the bundle needs no node_modules');
});

test('the Kubernetes examples cover a CSI sidecar configured from the environment, one from a ConfigMap, and a one-shot init container', () => {
  assert.ok(manifests.length >= 3, `manifests: ${manifests}`);
  const all = manifests.flatMap((f) => readManifests(join(examples, 'kubernetes', f)));
  const helpers = all.flatMap((d) => podSpecs(d).flatMap((s) => ((s['initContainers'] ?? []) as Obj[]).filter((c) => String(c['image']).startsWith('spiffe-helper'))));
  assert.ok(helpers.some((c) => c['restartPolicy'] === 'Always'));
  assert.ok(helpers.some((c) => (c['args'] ?? []).includes('--once')));
  const volumes = all.flatMap((d) => podSpecs(d).flatMap((s) => s['volumes'] as Obj[]));
  assert.ok(volumes.some((v) => v['csi']?.['driver'] === 'csi.spiffe.io'));
  assert.ok(volumes.some((v) => v['configMap']));
});

for (const name of manifests) {
  test(`examples/kubernetes/${name}: volumes, config, socket, cert_dir and probes line up`, () => {
    const file = join(examples, 'kubernetes', name);
    const docs = readManifests(file);
    let helpers = 0;
    for (const doc of docs) {
      for (const spec of podSpecs(doc)) {
        const volumeNames = new Set(((spec['volumes'] ?? []) as Obj[]).map((v) => v['name']));
        const containers = [...((spec['initContainers'] ?? []) as Obj[]), ...((spec['containers'] ?? []) as Obj[])];
        const used = new Set<string>();
        for (const c of containers) {
          for (const m of (c['volumeMounts'] ?? []) as Obj[]) {
            assert.ok(volumeNames.has(m['name']), `${name}: container ${c['name']} mounts unknown volume ${m['name']}`);
            used.add(m['name']);
          }
        }
        for (const v of volumeNames) assert.ok(used.has(v), `${name}: volume ${v} is mounted by no container`);
        for (const c of (spec['initContainers'] ?? []) as Obj[]) {
          if (!String(c['image']).startsWith('spiffe-helper')) continue;
          checkHelper(file, docs, spec, c, true);
          helpers++;
        }
        assert.ok(!((spec['containers'] ?? []) as Obj[]).some((c) => String(c['image']).startsWith('spiffe-helper')), `${name}: the helper runs as an init container`);
      }
    }
    assert.ok(helpers > 0, `${name}: no spiffe-helper container`);
  });
}

test('the Kubernetes examples pass Pod Security "restricted", as judged by the official evaluator (k8s.io/pod-security-admission)', { timeout: 10 * 60_000 }, async () => {
  const { binary } = await goBuild(fileURLToPath(new URL('psa/', import.meta.url)), 'psa');
  const files = manifests.map((f) => join(examples, 'kubernetes', f));
  const r = spawnSync(binary, files, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const verdicts = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { file: string; kind: string; name: string; level: string; allowed: boolean; forbidden: string[] });
  for (const f of files)
    assert.ok(
      verdicts.some((v) => v.file === f),
      `${f}: no pod template evaluated`,
    );
  for (const v of verdicts) {
    assert.match(v.level, /^restricted:/);
    assert.ok(v.allowed, `${basename(v.file)}: ${v.kind} ${v.name} is refused by Pod Security restricted: ${v.forbidden.join('; ')}`);
  }
});

test('examples/systemd: the unit runs a config that exists here and loads, and signals nginx through its pid file', () => {
  const dir = join(examples, 'systemd');
  const unit = readFileSync(join(dir, 'spiffe-helper.service'), 'utf8');
  const keys = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line.trim());
    if (s) section = s[1]!;
    const kv = /^(\w+)=(.*)$/.exec(line.trim());
    if (kv) keys.set(`${section}.${kv[1]}`, [...(keys.get(`${section}.${kv[1]}`) ?? []), kv[2]!]);
  }
  const execStart = keys.get('Service.ExecStart')?.[0];
  assert.ok(execStart);
  const args = execStart.split(/\s+/).slice(1);
  assertCliAccepts(args, 'ExecStart');
  const configPath = flagValue(args, '--config')!;
  const local = join(dir, basename(configPath));
  assert.ok(existsSync(local), `ExecStart's --config ${configPath} is ${local} in the example`);
  const config = parseConfig(readFileSync(local, 'utf8'), local, {});
  assert.equal(config.daemonMode, true);
  assert.equal(config.pidFileName, '/run/nginx.pid');
  assert.equal(config.renewSignal, 'SIGHUP');
  assert.equal(config.cmd, undefined, 'nginx is not wrapped: systemd runs it');

  const pre = keys.get('Service.ExecStartPre')?.[0];
  assert.ok(pre, 'a one-shot fetch before nginx can start');
  const preArgs = pre.split(/\s+/).slice(1);
  assertCliAccepts(preArgs, 'ExecStartPre');
  assert.equal(flagValue(preArgs, '--config'), configPath);
  assert.ok(preArgs.includes('--once'));
  assert.equal(pre.split(/\s+/)[0], execStart.split(/\s+/)[0]);

  assert.deepEqual(keys.get('Service.ReadWritePaths'), [config.certDir], 'cert_dir is writable under ProtectSystem');
  assert.ok(keys.get('Unit.Before')?.includes('nginx.service'));
  assert.match(keys.get('Service.AmbientCapabilities')?.[0] ?? '', /CAP_KILL/, 'signalling root-owned nginx needs CAP_KILL');
  assert.deepEqual(keys.get('Unit.Documentation'), ['file:/usr/local/lib/node_modules/spiffe-helper/README.md'], "this project's README, where npm install -g puts the package");
  const dropIn = readFileSync(join(dir, 'nginx.service.d', 'spiffe-helper.conf'), 'utf8');
  assert.match(dropIn, /^After=spiffe-helper\.service$/m);
});

test("examples/systemd: systemd-analyze security rates the unit's exposure 2.0 or lower", () => {
  const unit = join(examples, 'systemd', 'spiffe-helper.service');
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
  assert.equal(r.error, undefined, 'systemd-analyze (Debian package systemd; scripts/install-test-deps.sh installs it)');
  const m = /Overall exposure level for spiffe-helper\.service: (\d+\.\d+)/.exec(r.stdout);
  assert.ok(m, `no exposure in:\n${r.stdout}${r.stderr}`);
  const exposed = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('✗'))
    .map((l) => l.replace(/\s{2,}.*\s(\d\.\d)$/, ' $1'));
  assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}; still exposed:\n${exposed.join('\n')}`);
});
