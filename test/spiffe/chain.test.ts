import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { parseCertificate } from '../../src/spiffe/certificate.js';
import { CLOCK_SKEW_MS, verifyChain } from '../../src/spiffe/chain.js';
import { parseX509Context } from '../../src/workload/api.js';
import { CASE_ID, chainCases } from '../helpers/chain-cases.js';
import { derCases } from '../helpers/der-cases.js';
import { issue } from '../helpers/certs.js';

/** An agent message carrying the case's chain and bundle. */
const message = (c: Awaited<ReturnType<(typeof chainCases)[number]['make']>>) => ({
  svids: [{ spiffe_id: CASE_ID, x509_svid: Buffer.concat(c.chain), x509_svid_key: c.keyDer, bundle: Buffer.concat(c.bundle), hint: '' }],
  crl: [],
  federated_bundles: {},
});

for (const c of [...chainCases, ...derCases]) {
  test(`agent update ${c.reason ? `refused (${c.reason})` : 'accepted'}: ${c.name}`, async () => {
    const made = await c.make();
    if (!c.reason) {
      const ctx = parseX509Context(message(made));
      assert.equal(ctx.svids[0]!.id.toString(), CASE_ID);
      return;
    }
    assert.throws(
      () => parseX509Context(message(made)),
      (e) => isHelperError(e) && e.reason === c.reason && /x509(svid|bundle)/.test(e.message),
    );
  });
}

test('chain verdicts name the certificate at fault', async () => {
  const made = await chainCases.find((c) => c.name === 'expired intermediate')!.make();
  const v = verifyChain(made.chain.map(parseCertificate), made.bundle.map(parseCertificate), new Date());
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.detail : '', /^intermediate 1 \(CN=example\.org intermediate\) expired at /);
  const self = await chainCases.find((c) => c.name === 'self-signed leaf')!.make();
  const s = verifyChain(self.chain.map(parseCertificate), self.bundle.map(parseCertificate), new Date());
  assert.match(!s.ok ? s.detail : '', /issued the leaf \(its issuer is CN=workload, it is self-signed\)/);
});

test('the clock-skew allowance applies to notBefore, never to notAfter', async () => {
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
  const notAfter = new Date(notBefore.getTime() + 3_600_000);
  const root = await issue({ ca: true, notAfter: new Date(Date.now() + 10 * 3_600_000) });
  const leaf = await issue({ uris: [CASE_ID], issuer: root, notBefore, notAfter });
  const [chain, bundle] = [[parseCertificate(leaf.der)], [parseCertificate(root.der)]];
  const before = (ms: number) => verifyChain(chain, bundle, new Date(notBefore.getTime() - ms));
  assert.equal(before(CLOCK_SKEW_MS).ok, true, 'exactly the allowance ahead: accepted');
  assert.equal(before(CLOCK_SKEW_MS + 1000).ok, false, 'beyond it: refused');
  assert.equal(verifyChain(chain, bundle, new Date(notAfter.getTime() - 1000)).ok, true);
  assert.equal(verifyChain(chain, bundle, notAfter).ok, false, 'at notAfter: expired');
});
