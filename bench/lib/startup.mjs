import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { benchEnv } from './env.mjs';
import { expectedFiles } from './messages.mjs';
import { checkFiles, HelperProcess } from './session.mjs';
import { median } from './stats.mjs';
import { ms } from './stats.mjs';
import { launcherPath, ours } from './impls.mjs';

/**
 * Where start-up time goes: each probe is a fresh `node` process (cwd = the repo, so bare
 * imports resolve to its node_modules) timed from spawn to exit; probes alternate within each
 * round. Then the helper's one-shot run: unbundled (tsc output, one file per module), bundled
 * (dist/bundle, what `npm run build` makes), and as shipped (bin/spiffe-helper: the bundle under
 * the launcher's V8 flags).
 */
const PROTO_OPTS = '{ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }';

export async function profileStartup({ root, workDir, runs, progress, first, cliPath, variants: extra = [] }) {
  const dir = join(workDir, 'startup');
  mkdirSync(dir, { recursive: true });
  const protoPath = join(root, 'proto', 'workload.proto');
  const cli = cliPath ?? join(root, 'dist', 'cli.js');
  const bundle = join(root, 'dist', 'bundle', 'cli.js');

  const esm = (code) => [process.execPath, ['--input-type=module', '-e', code]];
  // Each protobuf probe also encodes and decodes one X509SVIDResponse: protobufjs generates
  // its codecs at first use.
  const use = (svc) =>
    `const d = ${svc}.service.FetchX509SVID; d.responseDeserialize(d.responseSerialize({ svids: [{ spiffe_id: 'spiffe://a/b', x509_svid: Buffer.alloc(600, 1), x509_svid_key: Buffer.alloc(138, 2), bundle: Buffer.alloc(500, 3) }] }));`;
  const protoModule = JSON.stringify(join(cli, '..', 'workload', 'proto.js'));
  const clientModule = JSON.stringify(join(cli, '..', 'workload', 'client.js'));
  // grpc-js + @grpc/proto-loader is what the helper used before; their probes run while they are installed.
  let hasLoader = true;
  try {
    createRequire(join(root, 'package.json')).resolve('@grpc/proto-loader');
  } catch {
    hasLoader = false;
  }
  const loaderProbes = [
    { name: 'import @grpc/grpc-js (the helper before)', cmd: esm(`import '@grpc/grpc-js';`) },
    { name: '+ import @grpc/proto-loader', cmd: esm(`import '@grpc/grpc-js'; import '@grpc/proto-loader';`) },
    {
      name: '+ loadSync(workload.proto), one X509SVIDResponse through it',
      cmd: esm(`import { loadPackageDefinition } from '@grpc/grpc-js'; import { loadSync } from '@grpc/proto-loader';
        ${use(`loadPackageDefinition(loadSync(${JSON.stringify(protoPath)}, ${PROTO_OPTS})).SpiffeWorkloadAPI`)}`),
    },
  ];
  const probes = [
    { name: '`node -e 0` (floor)', cmd: [process.execPath, ['-e', '0']] },
    ...(hasLoader ? loaderProbes : []),
    { name: 'import node:net (what our gRPC client is built on)', cmd: esm(`import 'node:net';`) },
    { name: 'import node:http2 (what it was built on before)', cmd: esm(`import 'node:http2';`) },
    {
      name: 'our gRPC client + protobuf codec (dist/workload/client.js), one X509SVIDResponse decoded',
      cmd: esm(`import ${clientModule}; import { decode, encode, Messages } from ${protoModule};
        decode(Messages.X509SVIDResponse, encode(Messages.X509SVIDResponse, { svids: [{ spiffe_id: 'spiffe://a/b', x509_svid: Buffer.alloc(600, 1), x509_svid_key: Buffer.alloc(138, 2), bundle: Buffer.alloc(500, 3) }] }));`),
    },
    { name: '`node dist/cli.js --version` (every helper module, unbundled)', cmd: [process.execPath, [cli, '--version']] },
    { name: '`node dist/bundle/cli.js --version` (the same, bundled)', cmd: [process.execPath, [bundle, '--version']] },
    { name: '`bin/spiffe-helper --version` (the bundle under the launcher\'s V8 flags)', cmd: [launcherPath, ['--version']] },
  ];

  for (const v of extra) probes.push({ name: `\`--version\`, ${v.name}`, cmd: [process.execPath, [v.cli, '--version']] });
  const times = probes.map(() => []);
  for (let r = 0; r < runs; r++) {
    progress(`startup: probes, round ${r + 1}/${runs}`);
    for (const [i, p] of probes.entries()) times[i].push(await wall(p.cmd[0], p.cmd[1], root));
  }
  const floor = median(times[0]);
  const rows = probes.map((p, i) => [p.name, ms(median(times[i])), i === 0 ? '' : `+${ms(median(times[i]) - floor)}`]);

  // One-shot, end to end: unbundled, bundled, as shipped.
  const variants = [
    { name: 'one-shot, `node dist/cli.js` (unbundled)', impl: ours({ cliPath: cli }) },
    { name: 'one-shot, `node dist/bundle/cli.js` (bundled)', impl: ours({ cliPath: bundle }) },
    { name: 'one-shot, `bin/spiffe-helper` (bundled, V8 flags: what ships)', impl: ours() },
  ];
  for (const v of extra) variants.push({ name: `one-shot, ${v.name} (${v.cli})`, impl: ours({ cliPath: v.cli }) });
  const agentDir = join(dir, 'agent');
  mkdirSync(agentDir);
  const { startDevAgent } = await import('../../dist/dev/agent.js');
  const agent = await startDevAgent({ socketPath: join(agentDir, 'a.sock'), svidTtlSeconds: 86_400 });
  agent.pushX509(first);
  const oneShot = variants.map(() => []);
  try {
    for (let r = 0; r < runs; r++) {
      progress(`startup: one-shot variants, round ${r + 1}/${runs}`);
      for (const [i, v] of variants.entries()) {
        const certDir = join(agentDir, `c-${i}-${r}`);
        mkdirSync(certDir);
        const conf = v.impl.writeConfig(agentDir, { socketPath: agent.socketPath, certDir });
        const [cmd, args] = v.impl.once(conf);
        const h = new HelperProcess(cmd, args, { label: v.name });
        const { code, at } = await h.exited;
        if (code !== 0) throw h.error(`exited with ${code}`);
        checkFiles(certDir, expectedFiles(first), v.name);
        oneShot[i].push(at - h.startedAt);
      }
    }
  } finally {
    await agent.close();
  }
  variants.forEach((v, i) => rows.push([v.name, ms(median(oneShot[i])), `+${ms(median(oneShot[i]) - floor)}`]));
  rmSync(dir, { recursive: true, force: true });
  return {
    tables: [
      {
        title: 'Start-up profile',
        note: `Each probe is a new \`node\` process, spawn → exit, median of ${runs} rounds (probes alternate within a round). "over floor" is the median minus the \`node -e 0\` median.`,
        header: ['probe', 'wall time', 'over floor'],
        rows,
      },
    ],
  };
}

function wall(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd, env: benchEnv });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ').slice(0, 200)} exited with ${code}: ${err}`))));
  });
}
