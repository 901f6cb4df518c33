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

test('update pacing keys: defaults 100ms and 1s; durations are read; 0 turns each off', () => {
  const d = parse(base);
  assert.deepEqual([d.updateQuietMs, d.renewSettleMs], [100, 1000]);
  const c = parse(`${base}update_quiet_period = "250ms"\nrenew_settle_period = "2s"\n`);
  assert.deepEqual([c.updateQuietMs, c.renewSettleMs], [250, 2000]);
  const off = parse(`${base}update_quiet_period = "0s"\nrenew_settle_period = "0"\n`);
  assert.deepEqual([off.updateQuietMs, off.renewSettleMs], [0, 0]);
  const env = parse(base, { SPIFFE_HELPER_UPDATE_QUIET_PERIOD: '50ms', SPIFFE_HELPER_RENEW_SETTLE_PERIOD: '3s' });
  assert.deepEqual([env.updateQuietMs, env.renewSettleMs], [50, 3000]);
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
  ['file path ending in a reserved name', base.replace('"svid.pem"', '"../..data"'), /svid_file_name: must be a file name or path: "\.\.\/\.\.data" ends in "\.\.data", which starts with "\.\."/],
  ['bad mode string', `${base}key_file_mode = "rw"\n`, /key_file_mode: must be a file mode such as 0o644/],
  ['mode out of range', `${base}cert_file_mode = 0o7777\n`, /cert_file_mode: must be a permission mode/],
  ['bad agent address', base.replace('"/run/spire/sockets/agent.sock"', '"unix:relative"'), /^helper\.conf:2: agent_address: .*must be absolute/],
  ['renew_signal lower case', `${base}renew_signal = "sighup"\n`, /renew_signal: "sighup" is not a signal name; did you mean "SIGHUP"\?/],
  ['renew_signal unknown', `${base}renew_signal = "SIGFOO"\n`, /renew_signal: "SIGFOO" is not a signal name \(e\.g\./],
  ['pid_file_name without renew_signal', `${base}pid_file_name = "/run/x.pid"\n`, /pid_file_name: needs renew_signal/],
  ['restart policy for a reload command', `${base}cmd = "x"\ncmd_restart_policy = "always"\n`, /cmd_restart_policy: applies to a long-lived cmd/],
  ['restart policy unknown', `${base}cmd = "x"\nrenew_signal = "SIGHUP"\ncmd_restart_policy = "sometimes"\n`, /cmd_restart_policy: must be one of never, on-failure, always/],
  ['stop grace period', `${base}cmd = "x"\ncmd_stop_grace_period = "soon"\n`, /cmd_stop_grace_period: "soon" is not a duration/],
  ['update_quiet_period not a duration', `${base}update_quiet_period = "short"\n`, /^helper\.conf:7: update_quiet_period: "short" is not a duration/],
  ['update_quiet_period too long', `${base}update_quiet_period = "10s"\n`, /update_quiet_period: must be at most 5s, got "10s"/],
  ['update_quiet_period a number', `${base}update_quiet_period = 100\n`, /update_quiet_period: must be a string, got number 100/],
  ['renew_settle_period too long', `${base}renew_settle_period = "2m"\n`, /renew_settle_period: must be at most 60s, got "2m"/],
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
  [
    'federated pattern that matches another output',
    `${base}federated_bundle_file_name = "{trust_domain}.pem"\n`,
    /federated_bundle_file_name: pattern "\{trust_domain\}\.pem" also matches "svid\.pem"/,
  ],
  ['federated pattern without placeholder', `${base}federated_bundle_file_name = "fed.pem"\n`, /federated_bundle_file_name: must contain \{trust_domain\}/],
  // Names (issue 12 item 15): every output is a plain name inside cert_dir, clear of the
  // helper's own entries and of the other outputs.
  ['name ".." (the parent directory)', base.replace('"svid.pem"', '".."'), /svid_file_name: must be a file name inside cert_dir: "\.\." is "\.\.", not a file name/],
  ['name "..data" (the atomic_dir link)', base.replace('"bundle.pem"', '"..data"'), /svid_bundle_file_name: must be a file name inside cert_dir: "\.\.data" starts with "\.\.", which is reserved/],
  ['name "..data_tmp"', base.replace('"svid_key.pem"', '"..data_tmp"'), /svid_key_file_name: .*"\.\.data_tmp" starts with "\.\.", which is reserved/],
  ['name of a version directory', base.replace('"svid.pem"', '"..2026_11_23_03_06_31.ab12cd"'), /svid_file_name: .*starts with "\.\.", which is reserved/],
  [
    'name of the cert_dir lock',
    `${base}jwt_bundle_file_name = "..spiffe-helper.lock"
`,
    /jwt_bundle_file_name: .*"\.\.spiffe-helper\.lock" starts with "\.\."/,
  ],
  ['name with the shape of a temporary', base.replace('"bundle.pem"', '".svid.pem.0123456789abcdef0123456789abcdef.tmp"'), /svid_bundle_file_name: .*has the shape of the helper's temporary files/],
  ['name with a NUL', base.replace('"bundle.pem"', '"bundle\\u0000.pem"'), /svid_bundle_file_name: .*contains a NUL character/],
  ['name too long for its temporary', base.replace('"bundle.pem"', `"${'b'.repeat(218)}"`), /svid_bundle_file_name: .*is longer than 217 bytes/],
  [
    'jwt_svid_file_name naming a directory',
    `${base}jwt_svids = [{ jwt_audience = "a", jwt_svid_file_name = "../jwts/" }]
`,
    /jwt_svids\[0\]\.jwt_svid_file_name: .*ends with "\/"/,
  ],
  [
    'jwt_svid_file_name equal to svid_key_file_name',
    `${base}jwt_svids = [{ jwt_audience = "a", jwt_svid_file_name = "svid_key.pem" }]
`,
    /two outputs would write the same file "svid_key\.pem"/,
  ],
  [
    'federated pattern in the reserved namespace',
    `${base}federated_bundle_file_name = "..{trust_domain}.pem"
`,
    /federated_bundle_file_name: .*starts with "\.\.", which is reserved/,
  ],
  [
    'federated pattern with a path',
    `${base}federated_bundle_file_name = "fed/{trust_domain}.pem"
`,
    /federated_bundle_file_name: .*contains "\/"/,
  ],
  [
    'federated pattern that matches the JWT bundle file',
    `${base}federated_bundle_file_name = "fed_{trust_domain}.json"\njwt_bundle_file_name = "fed_example.org.json"\n`,
    /federated_bundle_file_name: pattern "fed_\{trust_domain\}\.json" also matches "fed_example\.org\.json"/,
  ],
  [
    'jwks pattern in the reserved namespace',
    `${base}jwt_bundle_format = "jwks"
jwt_bundle_file_name = "..{trust_domain}.json"
`,
    /jwt_bundle_file_name: .*starts with "\.\."/,
  ],
];

for (const [name, text, re] of errors) {
  test(`config error: ${name}`, () => {
    assert.throws(
      () => parse(text),
      (e) => isHelperError(e, 'config') && re.test(e.message),
    );
  });
}

const modeWarnings: [string, string, string[]][] = [
  ['default modes', '', []],
  ['key_file_mode 0640', 'key_file_mode = "0640"\n', ['key_file_mode']],
  ['key_file_mode 0604 (others)', 'key_file_mode = 0o604\n', ['key_file_mode']],
  ['key_file_mode 0400 (owner only)', 'key_file_mode = "0400"\n', []],
  ['jwt_svid_file_mode 0644', 'jwt_svid_file_mode = "0644"\njwt_svids = [{ jwt_audience = "a", jwt_svid_file_name = "a.jwt" }]\n', ['jwt_svid_file_mode']],
  ['jwt_bundle_file_mode 0660', 'jwt_bundle_file_mode = "0660"\njwt_bundle_file_name = "jwt.json"\n', ['jwt_bundle_file_mode']],
  ['jwt_svid_file_mode 0644 with no JWT-SVID to write', 'jwt_svid_file_mode = "0644"\n', []],
  ['cert_file_mode 0644 (certificates are public)', 'cert_file_mode = "0644"\n', []],
];
for (const [name, extra, keys] of modeWarnings) {
  test(`a secret's file mode open to others is a start-up warning naming the key: ${name}`, () => {
    const warnings = parse(`${base}${extra}`).warnings;
    assert.deepEqual(
      warnings.map((w) => w.key),
      keys,
    );
    for (const w of warnings) assert.match(w.message, new RegExp(`^${w.key} 0\\d{3} grants access to users other than the owner`));
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
