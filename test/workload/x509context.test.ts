import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { LIMITS } from '../../src/spiffe/limits.js';
import { BundleCache } from '../../src/spiffe/bundle-cache.js';
import { parseX509Context } from '../../src/workload/api.js';
import type { X509SVIDResponseMessage } from '../../src/workload/proto.js';
import { issue, svidChain } from '../helpers/certs.js';
import { basicConstraints, build, der, keyUsage, seq } from '../helpers/der-certs.js';

const ID = 'spiffe://example.org/workload';
const chain = await svidChain(ID);
const partner = await issue({ ca: true, uris: ['spiffe://partner.org'], name: 'partner root' });

const message = (o: { federated?: Record<string, Buffer>; bundle?: Buffer; chainDer?: Buffer; svids?: number } = {}): X509SVIDResponseMessage => ({
  svids: Array.from({ length: o.svids ?? 1 }, (_, i) => ({
    spiffe_id: ID,
    x509_svid: o.chainDer ?? chain.chainDer,
    x509_svid_key: chain.leaf.keyDer,
    bundle: o.bundle ?? chain.bundleDer,
    hint: i === 0 ? '' : `h${i}`,
  })),
  crl: [],
  federated_bundles: o.federated ?? {},
});

test('an empty federated bundle (a partner with only JWT authorities) is accepted: nothing of it is trusted', () => {
  const ctx = parseX509Context(message({ federated: { 'spiffe://partner.org': Buffer.alloc(0), 'spiffe://other.org': partner.der } }));
  assert.deepEqual([...ctx.federatedBundles.keys()], ['other.org'], 'no bundle for the empty domain, so no CA and no per-domain file');
  assert.deepEqual(ctx.emptyFederatedDomains, ['partner.org']);
  assert.equal(ctx.svids[0]!.id.toString(), ID);
});

test('an empty federated bundle is accepted with a bundle cache too, and forgotten when it fills', () => {
  const cache = new BundleCache();
  const empty = parseX509Context(message({ federated: { 'spiffe://partner.org': Buffer.alloc(0) } }), new Date(), cache);
  assert.deepEqual(empty.emptyFederatedDomains, ['partner.org']);
  const filled = parseX509Context(message({ federated: { 'spiffe://partner.org': partner.der } }), new Date(), cache);
  assert.deepEqual(filled.emptyFederatedDomains, []);
  assert.equal(filled.federatedBundles.get('partner.org')!.certificates.length, 1);
});

test("the SVID's own bundle stays mandatory: empty is refused (bundle_missing)", () => {
  assert.throws(
    () => parseX509Context(message({ bundle: Buffer.alloc(0) })),
    (e) => isHelperError(e, 'x509bundle') && e.reason === 'bundle_missing' && /own trust domain "example\.org" is empty/.test(e.message),
  );
});

/** Refused before the excess is parsed: the time is printed, never asserted. */
function refusedQuickly(name: string, msg: X509SVIDResponseMessage, message: RegExp): void {
  const started = performance.now();
  assert.throws(
    () => parseX509Context(msg),
    (e) => isHelperError(e) && e.reason === 'too_large' && message.test(e.message),
  );
  console.log(`# ${name}: refused in ${(performance.now() - started).toFixed(1)} ms`);
}

test('bounds: a chain of 100,000 intermediates (~30 MB) is refused, reason too_large', async () => {
  const inter = await issue({ ca: true, name: 'intermediate' });
  const huge = Buffer.concat([chain.leaf.der, ...Array.from({ length: 100_000 }, () => inter.der)]);
  refusedQuickly('100,000 intermediates', message({ chainDer: huge }), new RegExp(`chain: more than ${LIMITS.chainCertificates} certificates`));
});

test(`bounds: a message whose certificates hold more than ${LIMITS.messageDerElements} DER elements (2,000,000 empty SAN names in one leaf, 4 MB) is refused, reason too_large`, () => {
  const root = build({ cn: 'example.org root', ca: true });
  const emptyNames = Buffer.alloc(4_000_000);
  for (let i = 0; i < emptyNames.length; i += 2) emptyNames[i] = 0x82;
  const leaf = build({ cn: 'workload', issuer: root, extensions: [basicConstraints(false), keyUsage(false), ['2.5.29.17', false, seq(der(0x86, Buffer.from(ID)), emptyNames)]] });
  const msg = message({ chainDer: leaf.der, bundle: root.der });
  msg.svids[0]!.x509_svid_key = leaf.keyDer;
  refusedQuickly('2,000,000 SAN names', msg, /the response holds more than 1000000 DER elements/);
  // The budget is the message's: the next message has its own, and parsing outside a message has none.
  assert.equal(parseX509Context(message()).svids.length, 1);
});

test(`bounds: more than ${LIMITS.svids} SVIDs in one message are refused, reason too_large`, () => {
  refusedQuickly('too many SVIDs', message({ svids: LIMITS.svids + 1 }), /holds 257 SVIDs, more than 256/);
});

test(`bounds: more than ${LIMITS.federatedBundles} federated bundles are refused, reason too_large`, () => {
  const federated = Object.fromEntries(Array.from({ length: LIMITS.federatedBundles + 1 }, (_, i) => [`spiffe://p${i}.org`, partner.der]));
  refusedQuickly('too many federated bundles', message({ federated }), /holds 1025 federated bundles, more than 1024/);
});

test(`bounds: a bundle of more than ${LIMITS.bundleCertificates} CAs is refused, reason too_large`, () => {
  const huge = Buffer.concat(Array.from({ length: 100_000 }, () => partner.der));
  refusedQuickly('bundle of 100,000 CAs', message({ federated: { 'spiffe://partner.org': huge } }), /federated bundle "spiffe:\/\/partner\.org" holds more than 4096 certificates/);
});

test(`bounds: more than ${LIMITS.messageBundleCertificates} CAs over all bundles are refused, reason too_large`, () => {
  const big = Buffer.concat(Array.from({ length: 4000 }, () => partner.der));
  const federated = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`spiffe://p${i}.org`, big]));
  refusedQuickly('5 bundles of 4,000 CAs', message({ federated }), /hold more than 8192 certificates/);
});

test('bounds: a 1,000-CA bundle keeps working, and the SVID verifies against the CA among them', async () => {
  const others = await Promise.all(Array.from({ length: 999 }, (_, i) => issue({ ca: true, name: `ca ${i}` })));
  const bundle = Buffer.concat([...others.map((o) => o.der), chain.bundleDer]);
  const started = performance.now();
  const ctx = parseX509Context(message({ bundle }));
  console.log(`# 1,000-CA bundle: parsed and verified in ${(performance.now() - started).toFixed(1)} ms`);
  assert.equal(ctx.bundles.get('example.org')!.certificates.length, 1000);
});

test("a federated bundle's non-CA is left out, said, and does not stop the workload's own rotation", async () => {
  const notCa = await issue({ uris: ['spiffe://partner.org/x'], issuer: partner });
  const ctx = parseX509Context(message({ federated: { 'spiffe://partner.org': Buffer.concat([partner.der, notCa.der]) } }));
  assert.equal(ctx.federatedBundles.get('partner.org')!.certificates.length, 1, 'the partner CA stays');
  assert.deepEqual(ctx.ignoredFederated, ['partner.org: certificate 2 cannot be a trust anchor: it is not a CA (basicConstraints CA is not set)']);
  const only = parseX509Context(message({ federated: { 'spiffe://partner.org': notCa.der } }));
  assert.deepEqual(only.emptyFederatedDomains, ['partner.org'], 'nothing usable left: as an empty bundle');
});
