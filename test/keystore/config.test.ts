import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { configFromEnv, loadConfig, parseConfig } from '../../src/config/load.js';
import { baseConfigToml } from '../helpers/config.js';
import { tempDir } from '../helpers/tmp.js';

/** The keystore keys: passwords from a file or a variable, each mistake named by its key (and file). */

const dir = tempDir('ksc-');
const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const PW = file('pw', 'changeit\n');
const TRUST_PW = file('trust-pw', 'trust-me');
const EMPTY = file('empty', '\n');
const NON_ASCII = file('umlaut', 'pässwörd\n');
mkdirSync(join(dir, 'a-dir'));

/** loadConfig on a helper.conf in a directory of its own: parsing, then reading the passwords. */
const load = (extra: string, env: NodeJS.ProcessEnv = {}) => {
  const conf = join(tempDir('kscf-'), 'helper.conf');
  writeFileSync(conf, baseConfigToml + extra);
  return loadConfig(conf, env);
};

describe('keystore config: what is read', () => {
  it('keystore and truststore with one password file: alias spiffe, format pkcs12, one password for both', async () => {
    const c = await load(`keystore_file_name = "keystore.p12"\ntruststore_file_name = "truststore.p12"\nkeystore_password_file = "${PW}"\n`);
    const s = c.x509!.stores!;
    assert.equal(s.format, 'pkcs12');
    assert.equal(s.keystore!.fileName, 'keystore.p12');
    assert.equal(s.keystore!.alias, 'spiffe');
    assert.equal(s.keystore!.password.reveal(), 'changeit', 'one trailing newline is not part of the password');
    assert.equal(s.truststore!.password.reveal(), 'changeit', "the truststore takes the keystore's password by default");
    assert.equal(s.truststore!.includeFederatedDomains, false);
  });

  it('separate truststore password from the environment, legacy format, own alias, federated CAs', async () => {
    const c = await load(
      `keystore_file_name = "ks.p12"\nkeystore_alias = "server"\nkeystore_password_file = "${PW}"\nkeystore_format = "pkcs12-legacy"\ntruststore_file_name = "ts.p12"\ntruststore_password_env = "TS_PASS"\ntruststore_include_federated_domains = true\n`,
      { TS_PASS: 'from env' },
    );
    const s = c.x509!.stores!;
    assert.equal(s.format, 'pkcs12-legacy');
    assert.equal(s.keystore!.alias, 'server');
    assert.equal(s.truststore!.password.reveal(), 'from env');
    assert.equal(s.truststore!.includeFederatedDomains, true);
  });

  it('a truststore alone, with its own password file', async () => {
    const s = (await load(`truststore_file_name = "ts.p12"\ntruststore_password_file = "${TRUST_PW}"\n`)).x509!.stores!;
    assert.equal(s.keystore, undefined);
    assert.equal(s.truststore!.password.reveal(), 'trust-me');
  });

  it('every key from SPIFFE_HELPER_* variables', async () => {
    const s = (
      await load('', {
        SPIFFE_HELPER_KEYSTORE_FILE_NAME: 'ks.p12',
        SPIFFE_HELPER_KEYSTORE_PASSWORD_ENV: 'KS_PASS',
        KS_PASS: 'env secret',
        SPIFFE_HELPER_TRUSTSTORE_FILE_NAME: 'ts.p12',
        SPIFFE_HELPER_TRUSTSTORE_PASSWORD_FILE: TRUST_PW,
        SPIFFE_HELPER_TRUSTSTORE_INCLUDE_FEDERATED_DOMAINS: 'true',
        SPIFFE_HELPER_KEYSTORE_FORMAT: 'pkcs12-legacy',
        SPIFFE_HELPER_KEYSTORE_ALIAS: 'jvm',
      })
    ).x509!.stores!;
    assert.deepEqual(
      [s.keystore!.fileName, s.keystore!.alias, s.keystore!.password.reveal(), s.truststore!.fileName, s.truststore!.password.reveal(), s.truststore!.includeFederatedDomains, s.format],
      ['ks.p12', 'jvm', 'env secret', 'ts.p12', 'trust-me', true, 'pkcs12-legacy'],
    );
  });

  it('the password never shows in JSON, util.inspect or string form: only where it came from', async () => {
    const c = await load(`keystore_file_name = "ks.p12"\nkeystore_password_file = "${PW}"\n`);
    for (const text of [JSON.stringify(c), inspect(c, { depth: 10 }), String(c.x509!.stores!.keystore!.password)]) {
      assert.ok(!text.includes('changeit'), text);
    }
    assert.match(JSON.stringify(c), new RegExp(`password from keystore_password_file ${PW}`));
  });
});

/** [case, extra config, environment, the error (it names the key, and the file when there is one)] */
const errors: [string, string, NodeJS.ProcessEnv, RegExp][] = [
  ['keystore without a password', 'keystore_file_name = "ks.p12"\n', {}, /helper\.conf: keystore_password_file: is required with keystore_file_name/],
  ['truststore without a password', 'truststore_file_name = "ts.p12"\n', {}, /helper\.conf: truststore_password_file: is required with truststore_file_name/],
  [
    'password file missing',
    `keystore_file_name = "ks.p12"\nkeystore_password_file = "${dir}/nope"\n`,
    {},
    new RegExp(`helper\\.conf:\\d+: keystore_password_file: ${dir}/nope: cannot read the password: file not found`),
  ],
  ['password file empty (a newline only)', `keystore_file_name = "ks.p12"\nkeystore_password_file = "${EMPTY}"\n`, {}, new RegExp(`keystore_password_file: ${EMPTY}: the password file is empty`)],
  ['password file is a directory', `keystore_file_name = "ks.p12"\nkeystore_password_file = "${dir}/a-dir"\n`, {}, /keystore_password_file: .*a-dir: cannot read the password: not a regular file/],
  ['password not printable ASCII', `keystore_file_name = "ks.p12"\nkeystore_password_file = "${NON_ASCII}"\n`, {}, /keystore_password_file: .*umlaut: the password must be printable ASCII/],
  ['truststore password file missing', `truststore_file_name = "ts.p12"\ntruststore_password_file = "${dir}/nope"\n`, {}, /truststore_password_file: .*nope: cannot read the password: file not found/],
  ['password variable not set', 'keystore_file_name = "ks.p12"\nkeystore_password_env = "KS_PASS"\n', {}, /keystore_password_env: names the environment variable KS_PASS, which is not set/],
  ['password variable empty', 'keystore_file_name = "ks.p12"\nkeystore_password_env = "KS_PASS"\n', { KS_PASS: '' }, /keystore_password_env: names the environment variable KS_PASS, which is empty/],
  [
    'password file and variable both',
    `keystore_file_name = "ks.p12"\nkeystore_password_file = "${PW}"\nkeystore_password_env = "KS_PASS"\n`,
    { KS_PASS: 'x' },
    /keystore_password_env: and keystore_password_file are both set: set one/,
  ],
  ['password keys without a store', `keystore_password_file = "${PW}"\n`, {}, /keystore_password_file: is set but neither keystore_file_name nor truststore_file_name is/],
  ['alias without a keystore', `truststore_file_name = "ts.p12"\ntruststore_password_file = "${PW}"\nkeystore_alias = "x"\n`, {}, /keystore_alias: is set but keystore_file_name is not/],
  [
    'truststore keys without a truststore',
    `keystore_file_name = "ks.p12"\nkeystore_password_file = "${PW}"\ntruststore_include_federated_domains = true\n`,
    {},
    /truststore_include_federated_domains: is set but truststore_file_name is not/,
  ],
  ['unknown format', `keystore_file_name = "ks.p12"\nkeystore_password_file = "${PW}"\nkeystore_format = "jks"\n`, {}, /keystore_format: must be one of pkcs12, pkcs12-legacy, got "jks"/],
  ['store name is a path', `keystore_file_name = "../ks.p12"\nkeystore_password_file = "${PW}"\n`, {}, /keystore_file_name: must be a file name inside cert_dir/],
  [
    'keystore and truststore the same file',
    `keystore_file_name = "s.p12"\ntruststore_file_name = "s.p12"\nkeystore_password_file = "${PW}"\n`,
    {},
    /truststore_file_name: must differ from keystore_file_name/,
  ],
  ['store collides with a PEM file', `keystore_file_name = "bundle.pem"\nkeystore_password_file = "${PW}"\n`, {}, /two outputs would write the same file "bundle.pem"/],
  [
    'variable names the password variable, which is not set',
    '',
    { SPIFFE_HELPER_KEYSTORE_FILE_NAME: 'ks.p12', SPIFFE_HELPER_KEYSTORE_PASSWORD_ENV: 'NOPE' },
    /SPIFFE_HELPER_KEYSTORE_PASSWORD_ENV: keystore_password_env: names the environment variable NOPE, which is not set/,
  ],
];

/** A JVM-only sidecar: the stores are its X.509 outputs, no PEM file is named (issue 16: each output optional). */
const STORES_ONLY = `agent_address = "/a.sock"\ncert_dir = "certs"\n`;
describe('keystore config: stores without the PEM files', () => {
  for (const [name, extra, want] of [
    [
      'a keystore and a truststore, no PEM file',
      `keystore_file_name = "keystore.p12"\ntruststore_file_name = "truststore.p12"\nkeystore_password_file = "${PW}"\n`,
      ['keystore.p12', 'truststore.p12'],
    ],
    ['a keystore alone', `keystore_file_name = "keystore.p12"\nkeystore_password_file = "${PW}"\n`, ['keystore.p12', undefined]],
    ['a truststore alone', `truststore_file_name = "truststore.p12"\ntruststore_password_file = "${TRUST_PW}"\n`, [undefined, 'truststore.p12']],
  ] as const) {
    it(name, async () => {
      const conf = join(tempDir('kscf-'), 'helper.conf');
      writeFileSync(conf, STORES_ONLY + extra);
      const x = (await loadConfig(conf, {})).x509!;
      assert.deepEqual([x.svidFileName, x.keyFileName, x.bundleFileName], [undefined, undefined, undefined], 'no PEM file is written');
      assert.deepEqual([x.stores!.keystore?.fileName, x.stores!.truststore?.fileName], want);
    });
  }
  it('the same from SPIFFE_HELPER_* variables alone', () => {
    const x = configFromEnv({ SPIFFE_HELPER_AGENT_ADDRESS: '/a.sock', SPIFFE_HELPER_KEYSTORE_FILE_NAME: 'keystore.p12', SPIFFE_HELPER_KEYSTORE_PASSWORD_FILE: PW }).x509!;
    assert.equal(x.svidFileName, undefined);
    assert.equal(x.stores!.keystore!.fileName, 'keystore.p12');
  });
  it('neither PEM names, nor stores, nor JWT outputs: still nothing to write', () =>
    assert.throws(
      () => parseConfig(STORES_ONLY, 'helper.conf', {}),
      /svid_file_name: nothing to write: set svid_file_name, svid_key_file_name and svid_bundle_file_name, or keystore_file_name or truststore_file_name/,
    ));
});

describe('keystore config errors', () => {
  for (const [name, extra, env, want] of errors) {
    it(name, () => assert.rejects(load(extra, env), (e: Error) => (assert.match(e.message, want), assert.equal((e as { code?: string }).code, 'config'), true)));
  }
  it('stores without the PEM files: federated_bundle_file_name still needs them', () =>
    assert.throws(
      () => parseConfig(`agent_address = "/a.sock"\nkeystore_file_name = "ks.p12"\nkeystore_password_file = "${PW}"\nfederated_bundle_file_name = "{trust_domain}.pem"\n`, 'helper.conf', {}),
      /federated_bundle_file_name: needs svid_file_name, svid_key_file_name and svid_bundle_file_name/,
    ));
  it('stores with only some of the PEM names: the missing one is named, as without stores', () =>
    assert.throws(
      () => parseConfig(`agent_address = "/a.sock"\nsvid_file_name = "svid.pem"\nkeystore_file_name = "ks.p12"\nkeystore_password_file = "${PW}"\n`, 'helper.conf', {}),
      /svid_key_file_name: is required when any of svid_file_name, svid_key_file_name and svid_bundle_file_name is set/,
    ));
  it('parsing reads no secret (convert-config, the example file); loading reads it', async () => {
    const extra = `keystore_file_name = "ks.p12"\nkeystore_password_file = "${dir}/nope"\n`;
    assert.equal(parseConfig(baseConfigToml + extra, 'helper.conf', {}).x509!.stores!.keystore!.fileName, 'ks.p12');
    await assert.rejects(load(extra), /keystore_password_file: .*nope: cannot read the password: file not found/);
  });
  it('no error message holds the password', async () => {
    const wrong = file('wrong', 'sekrit-\u00e9\n');
    await assert.rejects(load(`keystore_file_name = "ks.p12"\nkeystore_password_file = "${wrong}"\n`), (e: Error) => /printable ASCII/.test(e.message) && !e.message.includes('sekrit'));
  });
});
