import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { BundleCache } from '../../src/spiffe/bundle-cache.js';
import { parseX509Context } from '../../src/workload/api.js';
import { issue, svidChain } from '../helpers/certs.js';

const td = TrustDomain.parse('example.org');

test('an unchanged bundle is parsed once; changed bytes are parsed again', async () => {
  const [a, b] = [await issue({ ca: true }), await issue({ ca: true })];
  const cache = new BundleCache();
  const first = cache.parse(td, Buffer.concat([a.der, b.der]));
  assert.equal(cache.parse(td, Buffer.concat([a.der, b.der])), first, 'same bytes: the same parsed bundle');
  const changed = cache.parse(td, a.der);
  assert.notEqual(changed, first);
  assert.equal(changed.certificates.length, 1);
});

test('an invalid bundle fails every time, and does not evict the good one', async () => {
  const a = await issue({ ca: true });
  const cache = new BundleCache();
  const good = cache.parse(td, a.der);
  for (let i = 0; i < 2; i++)
    assert.throws(
      () => cache.parse(td, Buffer.from([0x30, 0x03, 1, 2])),
      (e) => isHelperError(e, 'x509bundle'),
    );
  assert.equal(cache.parse(td, a.der), good);
});

test('parseX509Context with a cache: same result, bundles reused across messages, dropped domains forgotten', async () => {
  const chain = await svidChain('spiffe://example.org/w');
  const partner = await issue({ ca: true, uris: ['spiffe://partner.org'] });
  const msg = (federated: Record<string, Buffer>) => ({
    svids: [{ spiffe_id: 'spiffe://example.org/w', x509_svid: chain.chainDer, x509_svid_key: chain.leaf.keyDer, bundle: chain.bundleDer, hint: '' }],
    crl: [],
    federated_bundles: federated,
  });
  const cache = new BundleCache();
  const one = parseX509Context(msg({ 'spiffe://partner.org': partner.der }), new Date(), cache);
  const two = parseX509Context(msg({ 'spiffe://partner.org': partner.der }), new Date(), cache);
  assert.equal(two.bundles.get('example.org'), one.bundles.get('example.org'));
  assert.equal(two.federatedBundles.get('partner.org'), one.federatedBundles.get('partner.org'));
  const plain = parseX509Context(msg({ 'spiffe://partner.org': partner.der }));
  assert.deepEqual(
    [...two.federatedBundles.values()].map((b) => b.certificates.map((c) => c.raw)),
    [...plain.federatedBundles.values()].map((b) => b.certificates.map((c) => c.raw)),
  );
  parseX509Context(msg({}), new Date(), cache);
  const back = parseX509Context(msg({ 'spiffe://partner.org': partner.der }), new Date(), cache);
  assert.notEqual(back.federatedBundles.get('partner.org'), one.federatedBundles.get('partner.org'), 'a domain that left was forgotten');
});
