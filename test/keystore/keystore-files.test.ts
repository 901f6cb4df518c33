import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { X509Output } from '../../src/config/config.js';
import type { StoreOutputs } from '../../src/config/keystore-output.js';
import { isHelperError } from '../../src/errors.js';
import { readPkcs12 } from '../../src/keystore/read.js';
import { storeRenderer } from '../../src/output/keystore-files.js';
import { parseX509Bundle } from '../../src/spiffe/bundle.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import { parseX509Svid } from '../../src/spiffe/x509svid.js';
import type { X509Context } from '../../src/spiffe/x509context.js';
import { issue, svidChain } from '../helpers/certs.js';
import { password } from './password.js';

/** The stores as files of the X.509 set: names, modes, content, and "same identity, same bytes". */

const ID = 'spiffe://example.org/workload';
const out = { keyFileMode: 0o600, certFileMode: 0o644, omitExpired: false } as X509Output;
const stores = (o: Partial<StoreOutputs> = {}, federated = false): StoreOutputs => ({
  keystore: { fileName: 'keystore.p12', alias: 'spiffe', password: password('changeit') },
  truststore: { fileName: 'truststore.p12', password: password('trust'), includeFederatedDomains: federated },
  format: 'pkcs12',
  ...o,
});

async function context(o: { federated?: string[]; expiredOnly?: boolean } = {}) {
  const c = await svidChain(ID, { intermediate: true });
  const svid = parseX509Svid({ spiffeId: ID, chainDer: c.chainDer, keyDer: c.leaf.keyDer, hint: '' });
  const ca = o.expiredOnly ? (await issue({ ca: true, notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) })).der : c.root.der;
  const federatedBundles = new Map(await Promise.all((o.federated ?? []).map(async (name) => [name, parseX509Bundle(TrustDomain.parse(name), (await issue({ ca: true, name })).der)] as const)));
  const ctx: X509Context = {
    svids: [svid],
    bundles: new Map([['example.org', parseX509Bundle(TrustDomain.parse('example.org'), ca)]]),
    federatedBundles,
    emptyFederatedDomains: [],
    ignoredFederated: [],
  };
  return { ctx, svid, chain: c };
}

describe('storeRenderer', () => {
  it('keystore with the key and chain under the alias (key_file_mode); truststore with the CAs (cert_file_mode)', async () => {
    const { ctx, svid, chain } = await context();
    const [ks, ts] = storeRenderer(stores(), out, '/certs')(svid, ctx, new Date());
    assert.deepEqual([ks!.path, ks!.mode, ts!.path, ts!.mode], ['/certs/keystore.p12', 0o600, '/certs/truststore.p12', 0o644]);
    const k = readPkcs12(Buffer.from(ks!.data), 'changeit');
    assert.equal(k.keys[0]!.alias, 'spiffe');
    assert.ok(k.keys[0]!.keyDer!.equals(chain.leaf.keyDer));
    assert.deepEqual(
      k.keys[0]!.chain.map((c) => Buffer.from(c.raw)),
      [chain.leaf.der, chain.inter!.der],
    );
    const t = readPkcs12(Buffer.from(ts!.data), 'trust');
    assert.deepEqual(
      t.trusted.map((e) => [e.alias, Buffer.from(e.cert.raw).equals(chain.root.der)]),
      [['example.org-1', true]],
    );
  });

  it('a restarted helper (a new renderer) renders the same identity to the same bytes', async () => {
    const { ctx, svid } = await context();
    const a = storeRenderer(stores(), out, '/certs')(svid, ctx, new Date());
    const b = storeRenderer(stores(), out, '/certs')(svid, ctx, new Date());
    assert.deepEqual(
      b.map((f) => Buffer.from(f.data)),
      a.map((f) => Buffer.from(f.data)),
    );
  });

  it('a new federated CA changes the truststore only', async () => {
    const { ctx, svid } = await context({ federated: ['partner.org'] });
    const render = storeRenderer(stores({}, true), out, '/certs');
    const [ks1, ts1] = render(svid, { ...ctx, federatedBundles: new Map() }, new Date());
    const [ks2, ts2] = render(svid, ctx, new Date());
    assert.ok(Buffer.from(ks2!.data).equals(Buffer.from(ks1!.data)), 'keystore unchanged');
    assert.ok(!Buffer.from(ts2!.data).equals(Buffer.from(ts1!.data)), 'truststore changed');
    assert.deepEqual(
      readPkcs12(Buffer.from(ts2!.data), 'trust').trusted.map((e) => e.alias),
      ['example.org-1', 'partner.org-1'],
    );
  });

  it('federated CAs stay out unless truststore_include_federated_domains', async () => {
    const { ctx, svid } = await context({ federated: ['partner.org'] });
    const [, ts] = storeRenderer(stores(), out, '/certs')(svid, ctx, new Date());
    assert.deepEqual(
      readPkcs12(Buffer.from(ts!.data), 'trust').trusted.map((e) => e.alias),
      ['example.org-1'],
    );
  });

  it('the legacy format: 3DES and an HMAC-SHA-1 MAC', async () => {
    const { ctx, svid } = await context();
    const [ks] = storeRenderer(stores({ format: 'pkcs12-legacy', truststore: undefined }), out, '/certs')(svid, ctx, new Date());
    assert.equal(readPkcs12(Buffer.from(ks!.data), 'changeit').mac?.digest, 'sha1');
  });

  it('omit_expired leaving no CA: the update is refused (truststore_empty), nothing is rendered', async () => {
    const { ctx, svid } = await context({ expiredOnly: true });
    assert.throws(
      () => storeRenderer(stores(), { ...out, omitExpired: true }, '/certs')(svid, ctx, new Date()),
      (e) => isHelperError(e, 'x509bundle') && e.reason === 'truststore_empty' && /truststore truststore\.p12: no CA certificate to trust in the update \(omit_expired left none\)/.test(e.message),
    );
  });
});
