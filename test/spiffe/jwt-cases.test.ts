/**
 * The named JWT-SVID and JWKS cases of test/helpers/jwt-cases.ts against our parser; the same
 * table runs against go-spiffe in test/interop/interop.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { parseJwtBundle } from '../../src/spiffe/jwtbundle.js';
import { parseAndValidateJwtSvid } from '../../src/spiffe/jwtsvid.js';
import { CASE_AUDIENCE, CASE_TD, jwtCases } from '../helpers/jwt-cases.js';

const td = TrustDomain.parse(CASE_TD);

for (const c of jwtCases) {
  test(`jwt case ${c.refused || c.bundleRefused ? 'refused' : 'accepted'}: ${c.name}`, async () => {
    const { token, jwks } = await c.make();
    if (c.bundleRefused) {
      assert.throws(
        () => parseJwtBundle(td, jwks),
        (e: unknown) => isHelperError(e, 'jwtbundle') && c.bundleRefused!.test(e.message),
      );
      return;
    }
    const bundle = parseJwtBundle(td, jwks);
    if (c.ignoredKid) {
      assert.equal(bundle.keys.has(c.ignoredKid), false, `${c.ignoredKid} is left out`);
      assert.equal(bundle.ignored.length, 1, bundle.ignored.join('; '));
      assert.match(bundle.ignored[0]!, new RegExp(`"${c.ignoredKid}"`));
    } else assert.deepEqual(bundle.ignored, []);
    const run = () => parseAndValidateJwtSvid(token, { audience: CASE_AUDIENCE, bundles: new Map([[CASE_TD, bundle]]) });
    if (!c.refused) {
      assert.equal(run().id.trustDomain.name, CASE_TD);
      return;
    }
    assert.throws(run, (e: unknown) => {
      assert.ok(isHelperError(e, 'jwtsvid'), String(e));
      assert.match(e.message, c.refused!);
      assert.ok(!e.message.includes(token.slice(token.lastIndexOf('.') + 1)), 'the signature never appears in the message');
      return true;
    });
  });
}
