import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { convertHcl } from '../src/convert/to-toml.js';
import { isHelperError } from '../src/errors.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** Converts, then loads the result with our loader (without SPIFFE_HELPER_* variables). */
function convertAndLoad(hcl: string) {
  const { toml, warnings } = convertHcl(hcl, 'helper.conf');
  return { toml, warnings, config: parseConfig(toml, 'converted.conf', {}) };
}

// The configuration example of the Go helper's README (ghostunnel), as its users copy it.
const GO_README = `agent_address = "/tmp/spire-agent/public/api.sock"
cmd = "ghostunnel"
cmd_args = "server --listen localhost:8002 --target localhost:8001 --keystore certs/svid_key.pem --cacert certs/svid_bundle.pem --allow-uri-san spiffe://example.org/Database"
cert_dir = "certs"
renew_signal = "SIGUSR1"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
jwt_svids = [{jwt_audience="your-audience",jwt_extra_audiences=["your-extra-audience-1", "your-extra-audience-2"], jwt_svid_file_name="jwt_svid.token"}]
jwt_bundle_file_name = "bundle.json"
cert_file_mode = 0444
key_file_mode = 0444
jwt_bundle_file_mode = 0444
jwt_svid_file_mode = 0444
`;

const NGINX = `# nginx, wrapped: started once the certificates are there, SIGHUP on rotation
agent_address = "/run/spire/sockets/agent.sock"
cmd = "/usr/sbin/nginx"
cmd_args = "-g \\"daemon off;\\" -c /etc/nginx/nginx.conf"
cert_dir = "/etc/nginx/certs"   // nginx.conf points here
renew_signal = "SIGHUP"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
daemon_mode = true
`;

// The Go helper's MySQL example: a reload command, no renew signal.
const MYSQL = `# SPIRE agent unix socket path
agent_address = "/tmp/spire-agent/public/api.sock"

# mysql binary path
cmd = "/usr/bin/mysql"

# Query for configuration reloading
cmd_args = "-e \\"ALTER INSTANCE RELOAD TLS;\\""

# No renew signal is used for this example
renew_signal = ""

# Directory where mysql stores the certificates
cert_dir = "/var/lib/mysql"

# Certificate, key and bundle names must match those configured for mysql
svid_file_name = "server-cert.pem"
svid_key_file_name = "server-key.pem"
svid_bundle_file_name = "ca.pem"

# MySQL expect intermediate certificates inside \`svid_bundle_file\` file
# instead of svid_file
add_intermediates_to_bundle = true
`;

const ENVOY = `/*
 * Envoy reads the files itself (SDS watched_directory); the helper only keeps them fresh.
 */
agent_address = "unix:///run/spire/sockets/agent.sock"
cert_dir = "/etc/envoy/certs"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "bundle.pem"
include_federated_domains = true
omit_expired = true
hint = "external"
log_level = "DEBUG"
jwt_svids = [
  {
    jwt_audience = "envoy"
    jwt_svid_file_name = "envoy.jwt"
  },
  { jwt_audience = "db", jwt_extra_audiences = ["db-replica"], jwt_svid_file_name = "db.jwt" },
]
jwt_bundle_file_name = "jwt_bundle.json"
health_checks {
  listener_enabled = true
  bind_port = 8081
  liveness_path = "/live"
  readiness_path = "/ready"
}
`;

test('the Go README example converts: modes, the cmd_args string, jwt_svids with extra audiences', () => {
  const { config, toml } = convertAndLoad(GO_README);
  assert.match(toml, /^cert_file_mode = 0o444$/m);
  assert.deepEqual(config.cmd?.args.slice(0, 3), ['server', '--listen', 'localhost:8002']);
  assert.equal(config.cmd?.args.length, 11);
  assert.equal(config.renewSignal, 'SIGUSR1');
  assert.deepEqual(config.jwtSvids, [{ audience: 'your-audience', extraAudiences: ['your-extra-audience-1', 'your-extra-audience-2'], fileName: 'jwt_svid.token' }]);
  assert.deepEqual([config.x509?.certFileMode, config.x509?.keyFileMode, config.jwtBundleFileMode, config.jwtSvidFileMode], [0o444, 0o444, 0o444, 0o444]);
});

test('nginx: quoted arguments, // comments kept, daemon_mode', () => {
  const { config, toml, warnings } = convertAndLoad(NGINX);
  assert.deepEqual(config.cmd?.args, ['-g', 'daemon off;', '-c', '/etc/nginx/nginx.conf']);
  assert.equal(config.certDir, '/etc/nginx/certs');
  assert.equal(config.daemonMode, true);
  assert.match(toml, /^# nginx, wrapped/m);
  assert.match(toml, /^cert_dir = "\/etc\/nginx\/certs"  # nginx.conf points here$/m);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^note: helper\.conf:\d+: cmd with renew_signal: when the program exits, it is started again at the next rotation/);
  assert.match(toml, /^cmd_restart_policy = "next-rotation"$/m, 'the Go behaviour is kept in TOML by saying it');
  assert.equal(config.cmd?.restartPolicy, 'next-rotation');
});

test('mysql: an empty renew_signal means "not set" and is left out; the reload command pattern stays', () => {
  const { config, warnings } = convertAndLoad(MYSQL);
  assert.equal(config.renewSignal, undefined);
  assert.deepEqual(config.cmd, { path: '/usr/bin/mysql', args: ['-e', 'ALTER INSTANCE RELOAD TLS;'], restartPolicy: 'never', stopGraceMs: 10_000 });
  assert.equal(config.x509?.addIntermediatesToBundle, true);
  assert.match(warnings.join('\n'), /helper\.conf:11: renew_signal = "": the Go helper reads an empty string as "not set"/);
});

test('envoy: /* */ comments, multi-line jwt_svids, the health_checks block listens on every interface as in Go', () => {
  const { config, toml, warnings } = convertAndLoad(ENVOY);
  assert.deepEqual(
    config.jwtSvids.map((j) => [j.audience, j.extraAudiences, j.fileName]),
    [
      ['envoy', [], 'envoy.jwt'],
      ['db', ['db-replica'], 'db.jwt'],
    ],
  );
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.hint, 'external');
  assert.deepEqual(config.health, { enabled: true, bindAddress: '0.0.0.0', port: 8081, livenessPath: '/live', readinessPath: '/ready', metricsEnabled: false });
  assert.match(toml, /^# Envoy reads the files itself/m);
  assert.match(toml, /\n\[health_checks\]\n/);
  assert.match(warnings.join('\n'), /log_level "DEBUG" read as "debug"/);
});

test('unknown keys are warned about, named by line, and left as comments; a decimal mode is read as meant', () => {
  const { config, toml, warnings } = convertAndLoad(`cert_dir = "certs"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
timeout = "10s"
key_file_mode = 600
cert_file_mode = 0
jwt_svids { jwt_audience = "a", jwt_svid_file_name = "a.jwt" }
jwt_svids { jwt_audience = "b", jwt_svid_file_name = "b.jwt", audience = "x" }
health_checks {
  bind_port = 0
  port = 9
}
`);
  assert.match(warnings.join('\n'), /warning: helper\.conf:5: unknown key "timeout"/);
  assert.match(warnings.join('\n'), /warning: helper\.conf:6: key_file_mode = 600: HCL reads this as the decimal number 600/);
  assert.match(warnings.join('\n'), /warning: helper\.conf:9: unknown key "audience" in jwt_svids/);
  assert.match(warnings.join('\n'), /warning: helper\.conf:12: unknown key "port" in health_checks/);
  assert.match(toml, /^# timeout = "10s"  # unknown key, not converted$/m);
  assert.equal(config.x509?.keyFileMode, 0o600);
  assert.equal(config.x509?.certFileMode, 0o644, 'a mode of 0 is the default in Go, and here');
  assert.equal(config.health.port, 8081, 'bind_port 0 is the default in Go, and here');
  assert.deepEqual(
    config.jwtSvids.map((j) => j.audience),
    ['a', 'b'],
    'repeated blocks are a list',
  );
});

const errors: [string, string, RegExp][] = [
  ['unterminated string', 'cert_dir = "certs\nx = 1\n', /^helper\.conf:1: unterminated string/],
  ['missing =', 'cert_dir "certs"\n', /^helper\.conf:1: labelled blocks/],
  ['unquoted word', 'a = 1\ncert_dir = certs\n', /^helper\.conf:2: unexpected word certs/],
  ['duplicate key', 'cert_dir = "a"\n\ncert_dir = "b"\n', /^helper\.conf:3: "cert_dir" is set twice \(first on line 1\)/],
  ['wrong type', 'cert_dir = "a"\ndaemon_mode = "yes"\n', /^helper\.conf:2: daemon_mode: must be true or false, got the string "yes"/],
  ['unterminated list', 'jwt_svids = [\n  { jwt_audience = "a" },\n', /^helper\.conf:1: unterminated list/],
  ['unterminated comment', 'a = 1\n/* no end\n', /^helper\.conf:2: unterminated \/\* comment/],
  ['heredoc', 'cmd_args = <<EOF\nx\nEOF\n', /^helper\.conf:1: heredoc strings/],
  ['bad cmd_args', 'cmd_args = "-c \\"unterminated"\n', /^helper\.conf:1: cmd_args: unterminated double quote/],
  ['bad mode', 'cert_dir = "a"\n\nkey_file_mode = "rw"\n', /^helper\.conf:3: key_file_mode: must be a file mode/],
  ['two items on a line', 'a = 1 b = 2\n', /^helper\.conf:1: expected a new line or a comma after "a"/],
];

for (const [name, hcl, re] of errors) {
  test(`convert-config error names the line: ${name}`, () => {
    assert.throws(
      () => convertHcl(hcl, 'helper.conf'),
      (e) => isHelperError(e, 'config') && re.test(e.message),
    );
  });
}

test('the command: TOML on stdout, warnings on stderr; exit 3 when the input cannot be converted or the result does not load', async () => {
  const dir = tempDir();
  const good = join(dir, 'good.conf');
  writeFileSync(good, `${NGINX}timeout = "5s"\n`);
  const ok = await runCli(['convert-config', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(parseConfig(ok.stdout, 'out.conf', {}).cmd?.path, '/usr/sbin/nginx');
  assert.match(ok.stderr, /good\.conf:11: unknown key "timeout"/);

  const broken = join(dir, 'broken.conf');
  writeFileSync(broken, 'cert_dir = "a"\ndaemon_mode = maybe\n');
  const bad = await runCli(['convert-config', broken]);
  assert.equal(bad.code, 3);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /broken\.conf:2: unexpected word maybe/);

  const incomplete = join(dir, 'incomplete.conf');
  writeFileSync(incomplete, 'cert_dir = "a"\nsvid_file_name = "svid.pem"\n');
  const inc = await runCli(['convert-config', incomplete]);
  assert.equal(inc.code, 3);
  assert.match(inc.stdout, /^svid_file_name = "svid\.pem"$/m, 'the conversion is printed anyway');
  assert.match(inc.stderr, /the converted configuration does not load: .*svid_key_file_name: is required/);

  assert.equal((await runCli(['convert-config'])).code, 2);
  assert.equal((await runCli(['convert-config', join(dir, 'missing.conf')])).code, 3);
});

// convert-config warns about every deliberate difference the config meets (README "Migrating
// from the Go spiffe-helper"), each naming its entry of test/differential/documented-differences.json.
test('convert-config warns about each deliberate difference the config meets, and only those', async () => {
  const dir = tempDir();
  const certs = join(dir, 'certs');
  const { mkdirSync, symlinkSync, writeFileSync: write } = await import('node:fs');
  mkdirSync(certs);
  symlinkSync('/etc/ssl/ca.pem', join(certs, 'ca.pem'));
  write(join(certs, 'tls.key'), 'old', { mode: 0o640 });
  const cases: { name: string; hcl: string; titles: string[] }[] = [
    {
      name: 'a wrapped server with health checks, a planted symlink and a key of another mode',
      hcl: `agent_address = "/run/a.sock"\ncert_dir = "${certs}"\ncmd = "/usr/sbin/nginx"\nrenew_signal = "SIGHUP"\nsvid_file_name = "tls.crt"\nsvid_key_file_name = "tls.key"\nsvid_bundle_file_name = "ca.pem"\nkey_file_mode = 0600\nhealth_checks {\n  listener_enabled = true\n}\n`,
      titles: [
        'Atomic writes: a new inode per rotation',
        'Planted symlinks are replaced, not followed',
        'File modes follow the config',
        'Updates are validated',
        'Wrapper semantics: the wrapped cmd stops with the helper',
        'Health: our details beside the Go body, stricter readiness',
      ],
    },
    {
      name: 'a one-shot init container with extra audiences',
      hcl: `agent_address = "/run/a.sock"\ncert_dir = ""\ndaemon_mode = false\njwt_svids = [{ jwt_audience = "a", jwt_extra_audiences = ["b"], jwt_svid_file_name = "a.jwt" }]\n`,
      titles: ['Updates are validated', 'JWT extra audiences in one-shot mode', 'Exit codes'],
    },
  ];
  for (const c of cases) {
    const file = join(dir, 'helper.conf');
    writeFileSync(file, c.hcl);
    const r = await runCli(['convert-config', file]);
    assert.equal(r.code, 0, r.stderr);
    const titles = [...r.stderr.matchAll(/^warning: differs from the Go helper \(([^)]+)\)/gm)].map((m) => m[1]);
    assert.deepEqual(titles, c.titles, c.name);
  }
});
