import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeKeystore, encodeTruststore, trustDomainCertificates, type KeystoreEntry, type Pkcs12Format } from '../../src/keystore/pkcs12.js';
import { readPkcs12 } from '../../src/keystore/read.js';
import { issue, svidChain, type KeyType } from '../helpers/certs.js';

const KEY_TYPES: KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'];
const FORMATS: Pkcs12Format[] = ['aes256-sha256', 'legacy-3des-sha1'];
const PASSWORD = 'changeit';

describe('readPkcs12 reads back what encodeKeystore/encodeTruststore wrote', () => {
  for (const keyType of KEY_TYPES) {
    for (const format of FORMATS) {
      it(`${keyType}, ${format}`, async () => {
        const c = await svidChain('spiffe://example.org/w', { keyType, intermediate: true });
        const ks = readPkcs12(encodeKeystore({ alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der, c.inter!.der] }, { password: PASSWORD, format }), PASSWORD);
        assert.equal(ks.mac?.verified, true);
        assert.equal(ks.mac?.digest, format === 'aes256-sha256' ? 'sha256' : 'sha1');
        assert.equal(ks.keys.length, 1);
        assert.equal(ks.keys[0]!.alias, 'spiffe');
        assert.ok(ks.keys[0]!.keyDer!.equals(c.leaf.keyDer));
        assert.deepEqual(
          ks.keys[0]!.chain.map((x) => x.raw),
          [c.leaf.der, c.inter!.der],
        );
        assert.deepEqual(ks.trusted, []);
        assert.deepEqual(ks.unchecked, []);

        const ts = readPkcs12(encodeTruststore(trustDomainCertificates('example.org', [c.root.der]), { password: PASSWORD, format }), PASSWORD);
        assert.deepEqual(
          ts.trusted.map((t) => [t.alias, t.cert.raw]),
          [['example.org-1', c.root.der]],
        );
        assert.deepEqual(ts.keys, []);
      });
    }
  }
});

describe('unchanged identity, unchanged bytes', () => {
  it('identical inputs give identical keystores and truststores, for both formats', async () => {
    const c = await svidChain('spiffe://example.org/w', { intermediate: true });
    for (const format of FORMATS) {
      const entry = { alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der, c.inter!.der] };
      // Copies, so equality cannot come from sharing the same Buffer objects.
      const copy = { alias: 'spiffe', keyDer: Buffer.from(c.leaf.keyDer), chainDer: [Buffer.from(c.leaf.der), Buffer.from(c.inter!.der)] };
      assert.ok(encodeKeystore(entry, { password: PASSWORD, format }).equals(encodeKeystore(copy, { password: PASSWORD, format })));
      const trust = trustDomainCertificates('example.org', [c.root.der]);
      assert.ok(encodeTruststore(trust, { password: PASSWORD, format }).equals(encodeTruststore(trust, { password: PASSWORD, format })));
    }
  });

  it('any change of input changes the keystore bytes and every salt and IV in them', async () => {
    const c = await svidChain('spiffe://example.org/w', { intermediate: true });
    const other = await svidChain('spiffe://example.org/w', { intermediate: true });
    const base: KeystoreEntry = { alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der, c.inter!.der] };
    const renewed = await issue({ uris: ['spiffe://example.org/w'], issuer: c.inter!, keys: c.leaf.keys });
    const cases: { name: string; entry?: Partial<KeystoreEntry>; password?: string; format?: Pkcs12Format; iterations?: number }[] = [
      { name: 'alias', entry: { alias: 'spiffe2' } },
      { name: 'password', password: 'changeit2' },
      { name: 'format', format: 'legacy-3des-sha1' },
      { name: 'iterations', iterations: 10_001 },
      { name: 'renewed leaf, same key', entry: { chainDer: [renewed.der, c.inter!.der] } },
      { name: 'intermediate dropped', entry: { chainDer: [c.leaf.der] } },
      { name: 'new key and chain', entry: { keyDer: other.leaf.keyDer, chainDer: [other.leaf.der, other.inter!.der] } },
    ];
    const before = encodeKeystore(base, { password: PASSWORD });
    for (const k of cases) {
      const after = encodeKeystore({ ...base, ...k.entry }, { password: k.password ?? PASSWORD, format: k.format ?? 'aes256-sha256', iterations: k.iterations ?? 10_000 });
      assert.ok(!after.equals(before), k.name);
      for (const salt of derivedValues(before)) assert.equal(after.indexOf(salt), -1, `${k.name}: a salt or IV survived the change`);
    }
  });

  it('any change of trusted certificates or aliases changes the truststore bytes', async () => {
    const a = await svidChain('spiffe://example.org/w');
    const b = await svidChain('spiffe://other.test/w');
    const base = trustDomainCertificates('example.org', [a.root.der]);
    const before = encodeTruststore(base, { password: PASSWORD });
    const cases = [
      { name: 'CA added', certs: [...base, ...trustDomainCertificates('other.test', [b.root.der])] },
      { name: 'CA replaced', certs: trustDomainCertificates('example.org', [b.root.der]) },
      { name: 'alias renamed', certs: trustDomainCertificates('example.com', [a.root.der]) },
    ];
    for (const k of cases) {
      const after = encodeTruststore(k.certs, { password: PASSWORD });
      assert.ok(!after.equals(before), k.name);
      for (const salt of derivedValues(before)) assert.equal(after.indexOf(salt), -1, `${k.name}: a salt or IV survived the change`);
    }
  });
});

/** The salts and IVs of a default-format store, found by their DER shape. */
function derivedValues(p12: Buffer): Buffer[] {
  const out: Buffer[] = [];
  // Every 16-byte OCTET STRING (04 10 ...) in the file: PBKDF2 salts, AES IVs, the MAC salt;
  // in the encrypted content they only appear by chance.
  const marker = Buffer.from([0x04, 0x10]);
  for (let i = p12.indexOf(marker); i >= 0; i = p12.indexOf(marker, i + 1)) out.push(p12.subarray(i + 2, i + 18));
  // Certificates' salt and IV, then (keystore) the key's, then the MAC salt.
  assert.ok(out.length >= 3, 'salts and IVs not found');
  return out;
}
