import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { envConfigKeys, envVarName } from '../../src/config/schema.js';
import { configFromEnv, parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';
import { baseConfigToml } from '../helpers/config.js';

const base = baseConfigToml;
const parse = (env: NodeJS.ProcessEnv, text = base) => parseConfig(text, 'helper.conf', env);

/** Asserts a config error whose message starts with the variable's name and matches `re`. */
function rejects(env: NodeJS.ProcessEnv, variable: string, re: RegExp, text = base): void {
  assert.throws(
    () => parse(env, text),
    (e) => isHelperError(e, 'config') && e.message.startsWith(`${variable}: `) && re.test(e.message),
  );
}

test('every key of helper.conf.example can be set from the environment', () => {
  const example = readFileSync(new URL('../../helper.conf.example', import.meta.url), 'utf8');
  const keys: string[] = [];
  let table = '';
  for (const line of example.split('\n')) {
    const section = /^#?\s?\[(\w+)\]/.exec(line);
    if (section) table = `${section[1]}.`;
    const m = /^#?\s?([a-z_]+)\s*=/.exec(line);
    if (m) keys.push(table + m[1]);
  }
  assert.ok(keys.length >= 33, `found ${keys.length} keys in the example`);
  const settable = envConfigKeys();
  for (const k of keys) assert.ok(settable.includes(k), `${k} (${envVarName(k)}) cannot be set from the environment`);
  for (const k of settable) assert.ok(keys.includes(k), `${envVarName(k)} sets ${k}, which helper.conf.example does not list`);
});

test('variables are typed like the file: strings, booleans, integers, modes, the cmd_args string form', () => {
  const c = parse({
    SPIFFE_HELPER_CERT_DIR: '/run/certs',
    SPIFFE_HELPER_DAEMON_MODE: 'false',
    SPIFFE_HELPER_ADD_INTERMEDIATES_TO_BUNDLE: 'true',
    SPIFFE_HELPER_CERT_FILE_MODE: '0640',
    SPIFFE_HELPER_KEY_FILE_MODE: '0o400',
    SPIFFE_HELPER_JWT_SVID_FILE_MODE: '644',
    SPIFFE_HELPER_CMD: 'sh',
    SPIFFE_HELPER_CMD_ARGS: '-c "a b"',
    SPIFFE_HELPER_RENEW_SIGNAL: 'SIGHUP',
    SPIFFE_HELPER_LOG_LEVEL: 'debug',
    SPIFFE_HELPER_HEALTH_CHECKS_LISTENER_ENABLED: 'true',
    SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT: '9091',
  });
  assert.equal(c.certDir, '/run/certs');
  assert.equal(c.daemonMode, false);
  assert.equal(c.x509?.addIntermediatesToBundle, true);
  assert.equal(c.x509?.certFileMode, 0o640);
  assert.equal(c.x509?.keyFileMode, 0o400);
  assert.equal(c.jwtSvidFileMode, 0o644);
  assert.deepEqual(c.cmd?.args, ['-c', 'a b']);
  assert.equal(c.renewSignal, 'SIGHUP');
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.health.enabled, true);
  assert.equal(c.health.port, 9091);
});

test('precedence: environment over file over defaults; [health_checks] is merged key by key', () => {
  const text = `${base}daemon_mode = true\nhint = "file"\n[health_checks]\nlistener_enabled = true\nbind_port = 7000\nreadiness_path = "/r"\n`;
  const c = parse({ SPIFFE_HELPER_DAEMON_MODE: 'false', SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT: '7001' }, text);
  assert.equal(c.daemonMode, false, 'environment beats file');
  assert.equal(c.hint, 'file', 'file beats default');
  assert.deepEqual([c.health.enabled, c.health.port, c.health.readinessPath, c.health.livenessPath], [true, 7001, '/r', '/live']);
  assert.equal(c.agentAddressSource, 'agent_address');
  const d = parse({ SPIFFE_HELPER_AGENT_ADDRESS: 'unix:///env.sock', SPIFFE_ENDPOINT_SOCKET: 'unix:///other.sock' });
  assert.equal(d.agentAddress.target, 'unix:///env.sock');
  assert.equal(d.agentAddressSource, 'SPIFFE_HELPER_AGENT_ADDRESS');
});

test('an empty variable counts as not set', () => {
  assert.equal(parse({ SPIFFE_HELPER_CERT_DIR: '' }).certDir, 'certs');
});

test('jwt_svids: a TOML inline array as in the file, or JSON', () => {
  const toml = parse({ SPIFFE_HELPER_JWT_SVIDS: '[{ jwt_audience = "api", jwt_extra_audiences = ["x"], jwt_svid_file_name = "api.jwt" },\n { jwt_audience = "db", jwt_svid_file_name = "db.jwt" }]' });
  const json = parse({ SPIFFE_HELPER_JWT_SVIDS: '[{"jwt_audience": "api", "jwt_extra_audiences": ["x"], "jwt_svid_file_name": "api.jwt"}, {"jwt_audience": "db", "jwt_svid_file_name": "db.jwt"}]' });
  const want = [
    { audience: 'api', extraAudiences: ['x'], fileName: 'api.jwt' },
    { audience: 'db', extraAudiences: [], fileName: 'db.jwt' },
  ];
  assert.deepEqual(toml.jwtSvids, want);
  assert.deepEqual(json.jwtSvids, want);
});

test('errors name the variable', () => {
  rejects({ SPIFFE_HELPER_DAEMON_MODE: 'yes' }, 'SPIFFE_HELPER_DAEMON_MODE', /must be true or false, got the string "yes"/);
  rejects({ SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT: '80a' }, 'SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT', /must be an integer/);
  rejects({ SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT: '70000' }, 'SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT', /between 0 and 65535/);
  rejects({ SPIFFE_HELPER_KEY_FILE_MODE: 'rw-------' }, 'SPIFFE_HELPER_KEY_FILE_MODE', /file mode/);
  rejects({ SPIFFE_HELPER_CMD: 'sh', SPIFFE_HELPER_CMD_ARGS: '-c "unterminated' }, 'SPIFFE_HELPER_CMD_ARGS', /unterminated double quote/);
  rejects({ SPIFFE_HELPER_CMD: 'sh', SPIFFE_HELPER_RENEW_SIGNAL: 'hup' }, 'SPIFFE_HELPER_RENEW_SIGNAL', /did you mean "SIGHUP"/);
  rejects({ SPIFFE_HELPER_JWT_SVIDS: '{ jwt_audience = "a" }' }, 'SPIFFE_HELPER_JWT_SVIDS', /array of tables/);
  rejects({ SPIFFE_HELPER_JWT_SVIDS: '[{ jwt_audience = "a" }' }, 'SPIFFE_HELPER_JWT_SVIDS', /TOML inline array/);
  rejects({ SPIFFE_HELPER_JWT_SVIDS: '[{ jwt_audience = "a" }]' }, 'SPIFFE_HELPER_JWT_SVIDS', /jwt_svids\[0\]\.jwt_svid_file_name: is required/);
  rejects({ SPIFFE_HELPER_JWT_SVIDS: '[{ jwt_audience = "a", jwt_svid_file_name = "a", audience = "b" }]' }, 'SPIFFE_HELPER_JWT_SVIDS', /jwt_svids\[0\]\.audience: unknown key/);
});

test('an unknown SPIFFE_HELPER_ variable is an error that names it, with a guess', () => {
  rejects({ SPIFFE_HELPER_CERTDIR: '/x' }, 'SPIFFE_HELPER_CERTDIR', /unknown environment variable.*did you mean SPIFFE_HELPER_CERT_DIR\?/);
  rejects({ SPIFFE_HELPER_NOPE: '' }, 'SPIFFE_HELPER_NOPE', /unknown environment variable/);
  rejects({ SPIFFE_HELPER_HEALTH_CHECKS: '{}' }, 'SPIFFE_HELPER_HEALTH_CHECKS', /SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT/);
  rejects({ SPIFFE_HELPER_HEALTH_CHECKS_PORT: '1' }, 'SPIFFE_HELPER_HEALTH_CHECKS_PORT', /unknown environment variable/);
  // Other prefixes are none of our business.
  assert.equal(parse({ SPIFFE_HELPERX: '1', spiffe_helper_cert_dir: 'x' }).certDir, 'certs');
});

test('the environment alone is a whole configuration', () => {
  const c = configFromEnv({
    SPIFFE_HELPER_AGENT_ADDRESS: '/run/spire/agent.sock',
    SPIFFE_HELPER_CERT_DIR: '/certs',
    SPIFFE_HELPER_SVID_FILE_NAME: 'svid.pem',
    SPIFFE_HELPER_SVID_KEY_FILE_NAME: 'svid_key.pem',
    SPIFFE_HELPER_SVID_BUNDLE_FILE_NAME: 'bundle.pem',
  });
  assert.equal(c.certDir, '/certs');
  assert.equal(c.x509?.svidFileName, 'svid.pem');
  assert.throws(
    () => configFromEnv({ SPIFFE_HELPER_CERT_DIR: '/certs' }),
    (e) => isHelperError(e, 'config') && /^environment \(SPIFFE_HELPER_\*\): svid_file_name: nothing to write/.test(e.message),
  );
});
