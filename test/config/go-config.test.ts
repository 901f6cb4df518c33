import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const parse = (text: string, env: NodeJS.ProcessEnv = {}, daemonMode?: boolean) => parseConfig(text, 'helper.conf', env, { daemonMode });
const rejects = (text: string, re: RegExp, env: NodeJS.ProcessEnv = {}, daemonMode?: boolean) =>
  assert.throws(
    () => parse(text, env, daemonMode),
    (e) => isHelperError(e, 'config') && re.test(e.message),
  );

const X509 = `svid_file_name = "svid.pem"\nsvid_key_file_name = "svid_key.pem"\nsvid_bundle_file_name = "svid_bundle.pem"\n`;

// The Go helper v0.11.0's own sample helper.conf, unchanged: valid TOML as well as HCL.
const GO_SAMPLE = `agent_address = "/tmp/spire-agent/public/api.sock"
cmd = ""
cmd_args = ""
cert_dir = "certs"
renew_signal = "SIGUSR1"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
# Add CA with intermediates into Bundle file instead of SVID file,
# it is the expected behavior in some scenarios like MySQL.
# Default: false
# add_intermediates_to_bundle = false
`;

test('Go sample helper.conf loads: empty cmd and cmd_args are "not set", the lone renew_signal is a warning', () => {
  const c = parse(GO_SAMPLE);
  assert.equal(c.dialect, 'toml');
  assert.equal(c.cmd, undefined);
  assert.equal(c.renewSignal, 'SIGUSR1');
  assert.equal(c.certDir, 'certs');
  assert.equal(c.agentAddress.target, 'unix:///tmp/spire-agent/public/api.sock');
  assert.match(c.notices.join('\n'), /renew_signal is set but neither cmd nor pid_file_name is: nothing is signalled/);
});

// The Go helper's cmd/spiffe-helper/config/testdata/helper.conf: decimal modes, multi-line jwt_svids.
const GO_TESTDATA = `agent_address = "/tmp/spire-agent/public/api.sock"
cmd = "hot-restarter.py"
cmd_args = "start_envoy.sh"
cert_dir = "certs"
cert_file_mode = 444
key_file_mode = 444
jwt_bundle_file_mode = 444
jwt_svid_file_mode = 444
renew_signal = "SIGHUP"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
jwt_bundle_file_name = "jwt_bundle.json"
jwt_svids = [
  {
    jwt_svid_file_name = "jwt_svid.token"
    jwt_audience = "your-audience"
    jwt_extra_audiences = ["your-extra-audience-1", "your-extra-audience-2"]

  }
]
add_intermediates_to_bundle = true
`;

test('Go testdata helper.conf loads as HCL: multi-line jwt_svids, decimal 444 modes read as the octal they mean (warned)', () => {
  const c = parse(GO_TESTDATA);
  assert.equal(c.dialect, 'hcl');
  assert.deepEqual(c.jwtSvids, [{ audience: 'your-audience', extraAudiences: ['your-extra-audience-1', 'your-extra-audience-2'], fileName: 'jwt_svid.token' }]);
  assert.equal(c.x509?.certFileMode, 0o444);
  assert.equal(c.jwtSvidFileMode, 0o444);
  assert.deepEqual(c.cmd?.args, ['start_envoy.sh']);
  assert.match(c.notices.join('\n'), /warning: helper\.conf:5: cert_file_mode = 444: HCL reads this as the decimal number 444/);
});

test('HCL: octal 0644, health_checks block listens on every interface, bind_port = 0 is 8081, repeated jwt_svids blocks', () => {
  const c = parse(`cert_dir = "/run/certs"
${X509}cert_file_mode = 0644
key_file_mode = 0600
// a comment in Go's other style
jwt_svids { jwt_audience = "a", jwt_svid_file_name = "a.jwt" }
jwt_svids {
  jwt_audience = "b"
  jwt_svid_file_name = "b.jwt"
}
health_checks {
  listener_enabled = true
  bind_port = 0
  liveness_path = "/live"
}
`);
  assert.equal(c.dialect, 'hcl');
  assert.equal(c.x509?.certFileMode, 0o644);
  assert.equal(c.x509?.keyFileMode, 0o600);
  assert.deepEqual(
    c.jwtSvids.map((j) => j.fileName),
    ['a.jwt', 'b.jwt'],
  );
  assert.deepEqual(c.health, { enabled: true, bindAddress: '0.0.0.0', port: 8081, livenessPath: '/live', readinessPath: '/ready', metricsEnabled: false });
});

test('HCL-JSON is told apart by its opening brace', () => {
  const c = parse(`{
  "cert_dir": "certs",
  "svid_file_name": "svid.pem",
  "svid_key_file_name": "svid_key.pem",
  "svid_bundle_file_name": "svid_bundle.pem",
  "key_file_mode": "0640",
  "jwt_svids": [{"jwt_audience": "api", "jwt_svid_file_name": "api.jwt"}],
  "health_checks": {"listener_enabled": true, "bind_port": 9000}
}
`);
  assert.equal(c.dialect, 'hcl-json');
  assert.equal(c.x509?.keyFileMode, 0o640);
  assert.equal(c.jwtSvids[0]?.audience, 'api');
  assert.equal(c.health.port, 9000);
});

const unknown: [string, string, RegExp][] = [
  ['HCL top level', `cert_dir = "c"\n${X509}health_checks {\n}\ntimeout = "5s"\n`, /^helper\.conf:7: timeout: unknown key/],
  ['HCL block', `cert_dir = "c"\n${X509}health_checks {\n  listener_enabled = true\n  port = 9\n}\n`, /^helper\.conf:7: health_checks\.port: unknown key/],
  [
    'HCL jwt_svids entry',
    `cert_dir = "c"\njwt_svids {\n  jwt_audience = "a"\n  jwt_svid_file_name = "a"\n}\njwt_svids {\n  jwt_audience = "b"\n  audience = "x"\n}\n`,
    /^helper\.conf:8: jwt_svids\[1\]\.audience: unknown key/,
  ],
  ['HCL-JSON', `{\n  "cert_dir": "c",\n  "svid_file_name": "a",\n  "svid_key_file_name": "b",\n  "svid_bundle_file_name": "d",\n  "timeout": 5\n}\n`, /^helper\.conf:6: timeout: unknown key/],
];
for (const [name, text, re] of unknown) {
  test(`unknown key names file and line: ${name}`, () => rejects(text, re));
}

test('a file neither TOML nor HCL: the TOML error first, then the HCL one', () => {
  rejects(`cert_dir = "c"\nhealth_checks {\n  x = \n}\n`, /^helper\.conf:2:\d+: invalid TOML: .*\(nor the Go helper's HCL: line 3: /);
});

test('cert_dir = "" (Kubernetes one-shot init) is the working directory, as in Go, with a note', () => {
  for (const text of [`cert_dir = ""\n${X509}daemon_mode = false\n`, `${X509}daemon_mode = false\n`]) {
    const c = parse(text);
    assert.equal(c.certDir, '.');
    assert.match(c.notices.join('\n'), /cert_dir is not set: the files are written to the working directory/);
  }
});

test('mode 0 is the default in Go, in TOML and HCL alike', () => {
  assert.equal(parse(`cert_dir = "c"\n${X509}cert_file_mode = 0\n`).x509?.certFileMode, 0o644);
  assert.equal(parse(`cert_dir = "c"\n${X509}key_file_mode = 00\nhealth_checks {\n}\n`).x509?.keyFileMode, 0o600);
});

test('TOML keeps bind_port = 0 as "any free port" (ours); HCL reads it as Go does (8081)', () => {
  assert.equal(parse(`cert_dir = "c"\n${X509}[health_checks]\nlistener_enabled = true\nbind_port = 0\n`).health.port, 0);
  assert.equal(parse(`cert_dir = "c"\n${X509}health_checks {\n  listener_enabled = true\n  bind_port = 0\n}\n`).health.port, 8081);
});

const oneShot: [string, string, boolean | undefined, RegExp][] = [
  ['pid_file_name in the file', `cert_dir = "c"\n${X509}daemon_mode = false\nrenew_signal = "SIGHUP"\npid_file_name = "/run/x.pid"\n`, undefined, /pid_file_name: is set but daemon_mode is false/],
  ['pid_file_name with the one-shot flag', `cert_dir = "c"\n${X509}renew_signal = "SIGHUP"\npid_file_name = "/run/x.pid"\n`, false, /pid_file_name: is set but daemon_mode is false/],
];
for (const [name, text, flag, re] of oneShot) {
  test(`one-shot error as in Go: ${name}`, () => rejects(text, re, {}, flag));
}

test('one-shot warnings as in Go: cmd and renew_signal are not used', () => {
  const c = parse(`cert_dir = "c"\n${X509}cmd = "/bin/true"\nrenew_signal = "SIGHUP"\n`, {}, false);
  assert.equal(c.daemonMode, false);
  assert.match(c.notices.join('\n'), /cmd is set but daemon_mode is false: cmd is not run/);
  assert.match(c.notices.join('\n'), /renew_signal is set but daemon_mode is false/);
});

const addresses: [string, string, NodeJS.ProcessEnv, string | RegExp, string?][] = [
  ['SPIRE_AGENT_ADDRESS alone is used, with a deprecation warning', '', { SPIRE_AGENT_ADDRESS: '/run/old.sock' }, 'unix:///run/old.sock', 'SPIRE_AGENT_ADDRESS'],
  ['agent_address wins over SPIRE_AGENT_ADDRESS', 'agent_address = "/run/cfg.sock"\n', { SPIRE_AGENT_ADDRESS: '/run/old.sock' }, 'unix:///run/cfg.sock', 'agent_address'],
  [
    'agent_address wins even when both variables are set',
    'agent_address = "/run/cfg.sock"\n',
    { SPIRE_AGENT_ADDRESS: '/a', SPIFFE_ENDPOINT_SOCKET: 'unix:///b' },
    'unix:///run/cfg.sock',
    'agent_address',
  ],
  ['both variables without agent_address is an error, as in Go', '', { SPIRE_AGENT_ADDRESS: '/a', SPIFFE_ENDPOINT_SOCKET: 'unix:///b' }, /both SPIRE_AGENT_ADDRESS and SPIFFE_ENDPOINT_SOCKET are set/],
  ['an empty SPIRE_AGENT_ADDRESS is not set', '', { SPIRE_AGENT_ADDRESS: '', SPIFFE_ENDPOINT_SOCKET: 'unix:///b' }, 'unix:///b', 'SPIFFE_ENDPOINT_SOCKET'],
  [
    'SPIFFE_HELPER_AGENT_ADDRESS sets agent_address, which wins',
    '',
    { SPIRE_AGENT_ADDRESS: '/a', SPIFFE_ENDPOINT_SOCKET: 'unix:///b', SPIFFE_HELPER_AGENT_ADDRESS: '/c' },
    'unix:///c',
    'SPIFFE_HELPER_AGENT_ADDRESS',
  ],
];
for (const [name, extra, env, want, source] of addresses) {
  test(`agent address: ${name}`, () => {
    const text = `${extra}cert_dir = "c"\n${X509}`;
    if (want instanceof RegExp) return rejects(text, want, env);
    const c = parse(text, env);
    assert.equal(c.agentAddress.target, want);
    assert.equal(c.agentAddressSource, source);
    assert.equal(/SPIRE_AGENT_ADDRESS is deprecated/.test(c.notices.join('\n')), source === 'SPIRE_AGENT_ADDRESS');
  });
}

const CORPUS = new URL('../fixtures/go-configs/', import.meta.url).pathname;

test('every config of the Go corpus loads unchanged, in the dialect its syntax says', () => {
  const names = readdirSync(CORPUS).filter((f) => /\.(conf|json)$/.test(f));
  assert.ok(names.length >= 12);
  for (const name of names) {
    const text = readFileSync(join(CORPUS, name), 'utf8').replaceAll('@AGENT@', '/run/agent.sock').replaceAll('@PORT@', '8181').replaceAll('@PIDFILE@', '/run/app.pid');
    const c = parse(text);
    const syntaxIsToml = !/\{\s*$|^\/[/*]|=\s*0\d/m.test(text) && !text.trimStart().startsWith('{');
    assert.equal(c.dialect, name.endsWith('.json') ? 'hcl-json' : syntaxIsToml ? 'toml' : 'hcl', name);
  }
});

test('the start-up log names the dialect read, and the notices', async () => {
  const dir = tempDir();
  const file = join(dir, 'helper.conf');
  writeFileSync(file, `cert_dir = "${dir}/certs"\n${X509}cert_file_mode = 0644\ndaemon_mode = false\nrenew_signal = "SIGHUP"\n`);
  const r = await runCli(['-config', file], { env: { SPIRE_AGENT_ADDRESS: join(dir, 'none.sock') }, timeoutMs: 3000 });
  assert.match(r.stderr, /config read file=\S+helper\.conf dialect=hcl/);
  assert.match(r.stderr, /WARN.*SPIRE_AGENT_ADDRESS is deprecated/);
  assert.match(r.stderr, /WARN.*renew_signal is set but daemon_mode is false/);
});

test('daemon_mode in the file is still read (and checked) when the command line sets the mode', () => {
  assert.equal(parse(`cert_dir = "c"\n${X509}daemon_mode = true\n`, {}, false).daemonMode, false);
  rejects(`cert_dir = "c"\n${X509}daemon_mode = "yes"\n`, /daemon_mode: must be true or false/, {}, false);
});

test('a Go config wrapping cmd with renew_signal gets the Go behaviour (started again at the next rotation), said once; its own policy wins', () => {
  const hcl = (extra: string) => `cert_dir = "c"\n${X509}cmd = "/usr/sbin/nginx"\nrenew_signal = "SIGHUP"\n${extra}health_checks {\n}\n`;
  const go = parse(hcl(''));
  assert.equal(go.cmd?.restartPolicy, 'next-rotation');
  assert.equal(go.notices.filter((n) => /when the program exits, it is started again at the next rotation/.test(n)).length, 1);
  const own = parse(hcl('cmd_restart_policy = "always"\n'));
  assert.equal(own.cmd?.restartPolicy, 'always');
  assert.equal(
    own.notices.some((n) => /program exits/.test(n)),
    false,
  );
  assert.equal(parse(`cert_dir = "c"\n${X509}cmd = "/usr/sbin/nginx"\nrenew_signal = "SIGHUP"\n`).cmd?.restartPolicy, 'never', 'TOML keeps wrapper semantics');
});

// Go's file model (Go issues #179/#183): every output name may be a path, relative to cert_dir
// or absolute; with cert_dir "" an absolute name is that very file.
const pathCases: { name: string; text: string; want: Record<string, string> }[] = [
  {
    name: 'relative paths under cert_dir',
    text: `cert_dir = "/certs"\nsvid_file_name = "x509/svid.pem"\nsvid_key_file_name = "../keys/svid_key.pem"\nsvid_bundle_file_name = "bundle.pem"\n`,
    want: { svid: 'x509/svid.pem', key: '../keys/svid_key.pem' },
  },
  {
    name: 'an absolute JWT file with cert_dir ""',
    text: `cert_dir = ""\njwt_svids = [{ jwt_audience = "aws", jwt_svid_file_name = "/etc/jwts/aws.jwt" }]\n`,
    want: { jwt: '/etc/jwts/aws.jwt' },
  },
];
for (const c of pathCases) {
  test(`file names may be paths: ${c.name}`, () => {
    const config = parse(c.text);
    if (c.want['svid']) assert.equal(config.x509?.svidFileName, c.want['svid']);
    if (c.want['key']) assert.equal(config.x509?.keyFileName, c.want['key']);
    if (c.want['jwt']) assert.equal(config.jwtSvids[0]?.fileName, c.want['jwt']);
  });
}

test('file_layout = "atomic_dir" keeps requiring plain names in cert_dir: a path is a config error naming the key', () => {
  rejects(
    `cert_dir = "c"\nsvid_file_name = "a/svid.pem"\nsvid_key_file_name = "k.pem"\nsvid_bundle_file_name = "b.pem"\nfile_layout = "atomic_dir"\n`,
    /svid_file_name: is a path \("a\/svid\.pem"\); file_layout = "atomic_dir" switches one directory at once, so its files must be plain names in cert_dir/,
  );
  rejects(
    `cert_dir = "c"\n${X509}jwt_bundle_format = "jwks"\njwt_bundle_file_name = "jwt/{trust_domain}.json"\n`,
    /jwt_bundle_file_name: with jwt_bundle_format = "jwks" must be a plain file name in cert_dir/,
  );
});

test('two names for one file (a.pem and ./a.pem) are refused', () => {
  rejects(`cert_dir = "c"\n${X509}jwt_bundle_file_name = "./svid.pem"\n`, /two outputs would write the same file "\.\/svid\.pem" \(the same as "svid\.pem"\)/);
});

test('files at paths are written atomically in their own directories, which are locked too (one-shot, dev agent)', async () => {
  const dir = tempDir();
  const { startDevAgent } = await import('../../src/dev/agent.js');
  const agent = await startDevAgent({ socketPath: join(dir, 'agent.sock'), svidTtlSeconds: 3600, jwtTtlSeconds: 600 });
  try {
    const { mkdirSync, statSync } = await import('node:fs');
    mkdirSync(join(dir, 'work', 'certs'), { recursive: true });
    mkdirSync(join(dir, 'jwts'));
    const file = join(dir, 'helper.conf');
    writeFileSync(
      file,
      `agent_address = "unix://${agent.socketPath}"\ncert_dir = ""\ndaemon_mode = false\nsvid_file_name = "certs/svid.pem"\nsvid_key_file_name = "certs/svid_key.pem"\nsvid_bundle_file_name = "bundle.pem"\njwt_svids = [{ jwt_audience = "aws", jwt_svid_file_name = "${dir}/jwts/aws.jwt" }]\n`,
    );
    const r = await runCli(['-config', file], { cwd: join(dir, 'work'), timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['work/certs/svid.pem', 'work/certs/svid_key.pem', 'work/bundle.pem', 'jwts/aws.jwt']) assert.ok(statSync(join(dir, f)).isFile(), f);
    assert.deepEqual(readdirSync(join(dir, 'jwts')), ['aws.jwt'], 'no temporary or lock left behind');
    assert.equal(readFileSync(join(dir, 'jwts/aws.jwt'), 'utf8').split('.').length, 3);
  } finally {
    await agent.close();
  }
});

test('a Go config is told at start-up, once each, the deliberate differences it relies on; a TOML config with our keys is not', () => {
  const go = parse(`cert_dir = "c"\n${X509}cmd = "/usr/sbin/nginx"\nrenew_signal = "SIGHUP"\nkey_file_mode = 0600\n`);
  const titles = go.notices.map((n) => /differs from the Go helper \(([^)]+)\)/.exec(n)?.[1]).filter(Boolean);
  assert.deepEqual(titles, ['Atomic writes: a new inode per rotation', 'Updates are validated', 'Wrapper semantics: the wrapped cmd stops with the helper']);
  const goToml = parse(`cert_dir = "c"\n${X509}cmd = "/usr/sbin/nginx"\nrenew_signal = "SIGHUP"\n`);
  assert.ok(
    goToml.notices.some((n) => /\(Wrapper semantics in TOML: an exiting cmd ends the helper\): .*set cmd_restart_policy = "next-rotation"/.test(n)),
    'a Go config that is valid TOML is told it gets wrapper semantics',
  );
  const ours = parse(`cert_dir = "c"\n${X509}cmd = "/usr/sbin/nginx"\nrenew_signal = "SIGHUP"\nfile_layout = "atomic_dir"\n`);
  assert.equal(
    ours.notices.some((n) => /differs from the Go helper/.test(n)),
    false,
  );
});
