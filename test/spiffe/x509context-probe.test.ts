/**
 * Second-round probes of a whole X.509 context (issue 12 items 1 and 5): federated bundles
 * keyed by the SVIDs' own trust domain or by two spellings of one domain. What is written must
 * be one consistent state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';
import { renderX509Files } from '../../src/output/x509-files.js';
import { fromPem } from '../../src/spiffe/pem.js';
import { parseX509Context } from '../../src/workload/api.js';
import { issue, svidChain } from '../helpers/certs.js';
import { baseConfigToml } from '../helpers/config.js';
import { build, seq, utcTime } from '../helpers/der-certs.js';

const ID = 'spiffe://example.org/workload';
/** The output of the smallest X.509 config, as the config loader makes it. */
const OUT = parseConfig(baseConfigToml, 'helper.conf', {}).x509!;
const own = await svidChain(ID);
const partner = await issue({ ca: true, name: 'partner.org root' });
const message = (federated: Record<string, Buffer>) => ({
  svids: [{ spiffe_id: ID, x509_svid: own.chainDer, x509_svid_key: own.leaf.keyDer, bundle: own.bundleDer, hint: '' }],
  crl: [],
  federated_bundles: federated,
});

test("context probe: an empty federated bundle keyed by the SVID's own trust domain neither empties nor duplicates its own bundle", () => {
  for (const key of ['spiffe://example.org', 'example.org']) {
    const ctx = parseX509Context(message({ [key]: Buffer.alloc(0), 'spiffe://partner.org': partner.der }));
    assert.equal(ctx.bundles.get('example.org')!.certificates.length, 1);
    assert.deepEqual(ctx.emptyFederatedDomains, [], 'the own domain is not "a federated domain nothing of which is trusted"');
    assert.deepEqual([...ctx.federatedBundles.keys()], ['partner.org']);
    assert.match(ctx.ignoredFederated.join('\n'), /example\.org: a federated bundle for the SVIDs' own trust domain is ignored/);
  }
});

test("context probe: a federated bundle with other CAs keyed by the SVID's own trust domain is ignored, its own bundle kept", () => {
  const ctx = parseX509Context(message({ 'spiffe://example.org': partner.der }));
  assert.deepEqual([...ctx.federatedBundles.keys()], []);
  assert.ok(ctx.bundles.get('example.org')!.certificates[0]!.raw.equals(own.bundleDer));
  assert.equal(ctx.ignoredFederated.length, 1);
});

test('context probe: two federated keys naming one trust domain (an ID and a name) are refused, not resolved by map order', () => {
  const pairs: Record<string, Buffer>[] = [
    { 'spiffe://partner.org': partner.der, 'partner.org': Buffer.alloc(0) },
    { 'partner.org': partner.der, 'spiffe://partner.org/with/path': partner.der },
  ];
  for (const pair of pairs) {
    assert.throws(
      () => parseX509Context(message(pair)),
      (e) => isHelperError(e, 'x509bundle') && /trust domain "partner\.org" has two federated bundles/.test(e.message),
    );
  }
});

test("context probe: a leaf signed by a CA that is only in a federated bundle is refused: only its own trust domain's bundle vouches for it", async () => {
  const leaf = await issue({ uris: [ID], issuer: partner });
  const msg = {
    svids: [{ spiffe_id: ID, x509_svid: leaf.der, x509_svid_key: leaf.keyDer, bundle: own.bundleDer, hint: '' }],
    crl: [],
    federated_bundles: { 'spiffe://partner.org': partner.der },
  };
  assert.throws(
    () => parseX509Context(msg),
    (e) => isHelperError(e) && e.reason === 'chain_untrusted' && /against the bundle of "example\.org"/.test(e.message),
  );
});

test('context probe: an SVID sent with another bundle than the first SVID of its trust domain is written with the bundle it was verified against', async () => {
  const other = await svidChain('spiffe://example.org/other');
  const msg = {
    svids: [
      { spiffe_id: ID, x509_svid: own.chainDer, x509_svid_key: own.leaf.keyDer, bundle: own.bundleDer, hint: 'a' },
      { spiffe_id: 'spiffe://example.org/other', x509_svid: other.chainDer, x509_svid_key: other.leaf.keyDer, bundle: other.bundleDer, hint: 'b' },
    ],
    crl: [],
    federated_bundles: {},
  };
  const ctx = parseX509Context(msg);
  const files = renderX509Files(ctx.svids[1]!, ctx, OUT, '/certs', new Date());
  const bundlePem = files.find((f) => f.path.endsWith('/bundle.pem'))!.data as string;
  assert.deepEqual(fromPem(bundlePem, 'CERTIFICATE'), [other.bundleDer], "the bundle.pem beside svid.pem is the one that SVID's chain verifies against");
});

test("context probe: a federated partner's CA that Go reads but we refuse (a UTCTime without seconds) is left out and said; the workload's own update goes on", () => {
  const noSeconds = (d: Date) => utcTime(d, `${d.toISOString().slice(2, 16).replace(/[-T:]/g, '')}Z`);
  const lenient = build({ cn: 'partner.org lenient CA', ca: true, edit: (t) => ({ ...t, validity: seq(noSeconds(new Date(Date.now() - 60_000)), noSeconds(new Date(Date.now() + 3_600_000))) }) });
  const ctx = parseX509Context(message({ 'spiffe://partner.org': Buffer.concat([partner.der, lenient.der]) }));
  assert.equal(ctx.svids.length, 1);
  assert.equal(ctx.federatedBundles.get('partner.org')!.certificates.length, 1, 'the partner CA that parses stays');
  assert.equal(ctx.ignoredFederated.length, 1);
  assert.match(ctx.ignoredFederated[0]!, /^partner\.org: certificate 2 cannot be parsed \(validity: "\d{10}Z" is not an RFC 5280 time\)/);
  // The SVID's own bundle stays strict: the same certificate there refuses the update.
  const ownBundle = { ...message({}), svids: [{ ...message({}).svids[0]!, bundle: Buffer.concat([own.bundleDer, lenient.der]) }] };
  assert.throws(
    () => parseX509Context(ownBundle),
    (e) => isHelperError(e, 'x509bundle') && /bundle of trust domain "example\.org": certificate 2 cannot be parsed/.test(e.message),
  );
});
