import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';

/** The keys the JWT issue added: jwt_bundle_format, and `hint` reaching JWT-only configs. */
const jwtOnly = `cert_dir = "certs"\njwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n`;
const parse = (text: string) => parseConfig(text, 'helper.conf', {});

test('jwt_bundle_format defaults to the Go helper layout; hint is read without X.509 outputs', () => {
  const c = parse(`${jwtOnly}jwt_bundle_file_name = "b.json"\nhint = "h"\n`);
  assert.equal(c.jwtBundleFormat, 'go-helper');
  assert.equal(c.hint, 'h');
  assert.equal(c.x509, undefined);
});

test('jwt_bundle_format = "jwks" takes a {trust_domain} pattern', () => {
  const c = parse(`${jwtOnly}jwt_bundle_format = "jwks"\njwt_bundle_file_name = "jwt_{trust_domain}.json"\n`);
  assert.equal(c.jwtBundleFormat, 'jwks');
  assert.equal(c.jwtBundleFileName, 'jwt_{trust_domain}.json');
});

const x509 = 'svid_file_name = "svid.pem"\nsvid_key_file_name = "key.pem"\nsvid_bundle_file_name = "bundle.pem"\n';
const errors: [string, string, RegExp][] = [
  ['an unknown format', `${jwtOnly}jwt_bundle_format = "pem"\n`, /jwt_bundle_format: must be one of go-helper, jwks, got "pem"/],
  ['jwks without a file name', `${jwtOnly}jwt_bundle_format = "jwks"\n`, /jwt_bundle_format: is "jwks" but jwt_bundle_file_name is not set/],
  [
    'jwks without {trust_domain}',
    `${jwtOnly}jwt_bundle_format = "jwks"\njwt_bundle_file_name = "b.json"\n`,
    /jwt_bundle_file_name: with jwt_bundle_format = "jwks" must contain \{trust_domain\} once/,
  ],
  ['jwks with nothing around {trust_domain}', `${jwtOnly}jwt_bundle_format = "jwks"\njwt_bundle_file_name = "{trust_domain}"\n`, /must contain \{trust_domain\} once, with a prefix or suffix/],
  ['{trust_domain} in the go-helper layout', `${jwtOnly}jwt_bundle_file_name = "{trust_domain}.json"\n`, /jwt_bundle_file_name: \{trust_domain\} is only replaced with jwt_bundle_format = "jwks"/],
  [
    'a pattern that matches a token file',
    `cert_dir = "c"\njwt_svids = [{ jwt_audience = "a", jwt_svid_file_name = "jwt_api.json" }]\njwt_bundle_format = "jwks"\njwt_bundle_file_name = "jwt_{trust_domain}.json"\n`,
    /pattern "jwt_\{trust_domain\}.json" also matches "jwt_api.json", which would be deleted as a stale per-trust-domain file/,
  ],
  [
    'a pattern overlapping the federated X.509 one',
    `cert_dir = "c"\n${x509}federated_bundle_file_name = "b_{trust_domain}.pem"\njwt_bundle_format = "jwks"\njwt_bundle_file_name = "b_{trust_domain}"\n`,
    /overlaps federated_bundle_file_name "b_\{trust_domain\}.pem"/,
  ],
];
for (const [name, text, message] of errors) {
  test(`rejects ${name}`, () => {
    assert.throws(
      () => parse(text),
      (e: unknown) => isHelperError(e, 'config') && message.test(e.message),
    );
  });
}
