import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';
import { baseConfigToml } from '../helpers/config.js';

const base = baseConfigToml;

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfig(text, 'helper.conf', env);

test('defaults are those of the Go spiffe-helper', () => {
  const c = parse(base);
  assert.equal(c.agentAddress.target, 'unix:///run/spire/sockets/agent.sock');
  assert.equal(c.certDir, 'certs');
  assert.equal(c.daemonMode, true);
  assert.deepEqual(
    { ...c.x509 },
    {
      svidFileName: 'svid.pem',
      keyFileName: 'svid_key.pem',
      bundleFileName: 'bundle.pem',
      addIntermediatesToBundle: false,
      includeFederatedDomains: false,
      federatedBundleFileName: undefined,
      omitExpired: false,
      hint: '',
      layout: 'files',
      certFileMode: 0o644,
      keyFileMode: 0o600,
    },
  );
  assert.equal(c.jwtSvidFileMode, 0o600);
  assert.equal(c.jwtBundleFileMode, 0o600);
  assert.deepEqual(c.health, { enabled: false, bindAddress: '127.0.0.1', port: 8081, livenessPath: '/live', readinessPath: '/ready', metricsEnabled: false });
  assert.equal(c.logLevel, 'info');
});

test('every key of the Go helper is read', () => {
  const c = parse(`${base}
add_intermediates_to_bundle = true
include_federated_domains = true
omit_expired = true
hint = "internal"
cert_file_mode = 0o640
key_file_mode = "0400"
jwt_bundle_file_mode = 0o644
jwt_svid_file_mode = "0644"
daemon_mode = true
cmd = "/usr/sbin/nginx"
cmd_args = "-g \\"daemon off;\\""
renew_signal = "SIGHUP"
pid_file_name = "/run/nginx.pid"
jwt_bundle_file_name = "jwt_bundle.json"
jwt_svids = [{ jwt_audience = "api", jwt_extra_audiences = ["b", "c"], jwt_svid_file_name = "api.jwt" }]
[health_checks]
listener_enabled = true
bind_port = 9090
liveness_path = "/l"
readiness_path = "/r"
`);
  assert.equal(c.x509?.addIntermediatesToBundle, true);
  assert.equal(c.x509?.includeFederatedDomains, true);
  assert.equal(c.x509?.omitExpired, true);
  assert.equal(c.x509?.hint, 'internal');
  assert.equal(c.x509?.certFileMode, 0o640);
  assert.equal(c.x509?.keyFileMode, 0o400);
  assert.equal(c.jwtBundleFileMode, 0o644);
  assert.equal(c.jwtSvidFileMode, 0o644);
  assert.equal(c.daemonMode, true);
  assert.deepEqual(c.cmd, { path: '/usr/sbin/nginx', args: ['-g', 'daemon off;'], restartPolicy: 'never', stopGraceMs: 10_000 });
  assert.equal(c.renewSignal, 'SIGHUP');
  assert.equal(c.pidFileName, '/run/nginx.pid');
  assert.equal(c.jwtBundleFileName, 'jwt_bundle.json');
  assert.deepEqual(c.jwtSvids, [{ audience: 'api', extraAudiences: ['b', 'c'], fileName: 'api.jwt' }]);
  assert.deepEqual(c.health, { enabled: true, bindAddress: '127.0.0.1', port: 9090, livenessPath: '/l', readinessPath: '/r', metricsEnabled: false });
});

test('cmd_args as a TOML array is taken as is', () => {
  assert.deepEqual(parse(`${base}\ncmd = "sh"\ncmd_args = ["-c", "echo 'a b'"]\n`).cmd?.args, ['-c', "echo 'a b'"]);
});

test('cmd policy keys are read', () => {
  const c = parse(`${base}\ncmd = "sh"\nrenew_signal = "SIGUSR1"\ncmd_restart_policy = "on-failure"\ncmd_stop_grace_period = "2s"\nfile_layout = "atomic_dir"\n`);
  assert.equal(c.cmd?.restartPolicy, 'on-failure');
  assert.equal(c.cmd?.stopGraceMs, 2000);
  assert.equal(c.x509?.layout, 'atomic_dir');
});

test('svid_file_name may equal svid_key_file_name (one combined file)', () => {
  const c = parse(base.replace('"svid_key.pem"', '"svid.pem"'));
  assert.equal(c.x509?.keyFileName, 'svid.pem');
});

test('agent_address falls back to SPIFFE_ENDPOINT_SOCKET', () => {
  const c = parse(base.replace(/agent_address.*\n/, ''), { SPIFFE_ENDPOINT_SOCKET: 'unix:/tmp/x.sock' });
  assert.equal(c.agentAddress.target, 'unix:///tmp/x.sock');
  assert.equal(c.agentAddressSource, 'SPIFFE_ENDPOINT_SOCKET');
});

const errors: [string, string, RegExp][] = [
  ['invalid TOML names line and column', `${base}\nhint = "unterminated\n`, /^helper\.conf:8:\d+: invalid TOML/],
  ['unknown key names key and line', `${base}svid_fil_name = "x"\n`, /^helper\.conf:7: svid_fil_name: unknown key/],
  ['wrong type', base.replace('"certs"', '42'), /^helper\.conf:3: cert_dir: must be a string, got number 42/],
  ['wrong bool type', `${base}daemon_mode = "yes"\n`, /daemon_mode: must be true or false/],
  ['only one of the svid names', `cert_dir = "c"\nsvid_file_name = "svid.pem"\n`, /svid_key_file_name: is required when any of/],
  ['two of the three svid names', `cert_dir = "c"\nsvid_file_name = "a"\nsvid_key_file_name = "b"\n`, /svid_bundle_file_name: is required/],
  ['nothing to write', `cert_dir = "c"\n`, /nothing to write/],
  ['file name with a path', base.replace('"svid.pem"', '"../svid.pem"'), /svid_file_name: must be a file name inside cert_dir/],
  ['bad mode string', `${base}key_file_mode = "rw"\n`, /key_file_mode: must be a file mode such as 0o644/],
  ['mode out of range', `${base}cert_file_mode = 0o7777\n`, /cert_file_mode: must be a permission mode/],
  ['bad agent address', base.replace('"/run/spire/sockets/agent.sock"', '"unix:relative"'), /^helper\.conf:2: agent_address: .*must be absolute/],
  ['renew_signal lower case', `${base}renew_signal = "sighup"\n`, /renew_signal: "sighup" is not a signal name; did you mean "SIGHUP"\?/],
  ['renew_signal unknown', `${base}renew_signal = "SIGFOO"\n`, /renew_signal: "SIGFOO" is not a signal name \(e\.g\./],
  ['pid_file_name without renew_signal', `${base}pid_file_name = "/run/x.pid"\n`, /pid_file_name: needs renew_signal/],
  ['restart policy for a reload command', `${base}cmd = "x"\ncmd_restart_policy = "always"\n`, /cmd_restart_policy: applies to a long-lived cmd/],
  ['restart policy unknown', `${base}cmd = "x"\nrenew_signal = "SIGHUP"\ncmd_restart_policy = "sometimes"\n`, /cmd_restart_policy: must be one of never, on-failure, always/],
  ['stop grace period', `${base}cmd = "x"\ncmd_stop_grace_period = "soon"\n`, /cmd_stop_grace_period: "soon" is not a duration/],
  ['cmd_args unterminated', `${base}cmd = "x"\ncmd_args = "-a \\"b"\n`, /cmd_args: unterminated double quote/],
  ['cmd_args wrong type', `${base}cmd = "x"\ncmd_args = 3\n`, /cmd_args: must be a string/],
  ['cmd_args without cmd', `${base}cmd_args = "-a"\n`, /cmd_args: is set but cmd is not/],
  ['jwt_svids entry missing audience', `${base}jwt_svids = [{ jwt_svid_file_name = "a.jwt" }]\n`, /jwt_svids\[0\]\.jwt_audience: is required/],
  ['jwt_svids unknown key', `${base}jwt_svids = [{ jwt_audience = "a", jwt_svid_file_name = "a.jwt", audience = "x" }]\n`, /jwt_svids\[0\]\.audience: unknown key/],
  ['jwt_svids not tables', `${base}jwt_svids = ["a"]\n`, /jwt_svids: must be an array of tables/],
  ['same file twice', `${base}jwt_bundle_file_name = "bundle.pem"\n`, /two outputs would write the same file "bundle.pem"/],
  ['health unknown key', `${base}[health_checks]\nport = 1\n`, /health_checks\.port: unknown key/],
  ['health port range', `${base}[health_checks]\nbind_port = 70000\n`, /health_checks\.bind_port: must be between 0 and 65535/],
  ['health path', `${base}[health_checks]\nliveness_path = "live"\n`, /health_checks\.liveness_path: must start with "\/"/],
  ['log level', `${base}log_level = "verbose"\n`, /log_level: must be one of debug, info, warn, error/],
  ['federated pattern that matches another output', `${base}federated_bundle_file_name = "{trust_domain}.pem"\n`, /federated_bundle_file_name: pattern "\{trust_domain\}\.pem" also matches "svid\.pem"/],
  ['federated pattern without placeholder', `${base}federated_bundle_file_name = "fed.pem"\n`, /federated_bundle_file_name: must contain \{trust_domain\}/],
];

for (const [name, text, re] of errors) {
  test(`config error: ${name}`, () => {
    assert.throws(() => parse(text), (e) => isHelperError(e, 'config') && re.test(e.message));
  });
}

test('a missing config file is a config error naming the file', async () => {
  await assert.rejects(loadConfig('/nonexistent/helper.conf'), (e) => isHelperError(e, 'config') && /\/nonexistent\/helper\.conf: cannot read config: file not found/.test(e.message));
});

test('loadConfig reads a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'helper.conf');
  writeFileSync(file, base);
  assert.equal((await loadConfig(file, {})).certDir, 'certs');
});

test('helper.conf.example is a valid config', async () => {
  const c = await loadConfig(new URL('../../helper.conf.example', import.meta.url).pathname, {});
  assert.ok(c.x509);
});
