import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { parseX509Svid, type RawX509Svid } from '../../src/spiffe/x509svid.js';
import { issue, KeyUsageFlags, svidChain, type KeyType } from '../helpers/certs.js';

const ID = 'spiffe://example.org/workload';

for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as KeyType[]) {
  test(`a ${keyType} SVID with an intermediate parses and validates`, async () => {
    const c = await svidChain(ID, { keyType, intermediate: true });
    const svid = parseX509Svid({ spiffeId: ID, chainDer: c.chainDer, keyDer: c.leaf.keyDer, hint: 'h' });
    assert.equal(svid.id.toString(), ID);
    assert.equal(svid.certificates.length, 2);
    assert.equal(svid.hint, 'h');
    const algorithm = { 'ec-p256': '1.2.840.10045.2.1', 'ec-p384': '1.2.840.10045.2.1', 'rsa-2048': '1.2.840.113549.1.1.1', ed25519: '1.3.101.112' }[keyType];
    assert.equal(svid.certificates[0]!.publicKey.algorithm, algorithm);
    assert.ok(svid.keyDer.equals(c.leaf.keyDer));
    assert.ok(svid.notAfter.getTime() > Date.now());
  });
}

type Case = [name: string, make: () => Promise<RawX509Svid>, message: RegExp];

const raw = async (leaf: Parameters<typeof svidChain>[1] = {}, id = ID): Promise<RawX509Svid> => {
  const c = await svidChain(id, leaf);
  return { spiffeId: id, chainDer: c.chainDer, keyDer: c.leaf.keyDer, hint: '' };
};

const cases: Case[] = [
  ['empty chain', async () => ({ ...(await raw()), chainDer: Buffer.alloc(0) }), /certificate chain is empty/],
  [
    'truncated DER',
    async () => {
      const r = await raw();
      return { ...r, chainDer: r.chainDer.subarray(0, r.chainDer.length - 10) };
    },
    /not a sequence of DER certificates/,
  ],
  [
    'trailing garbage',
    async () => {
      const r = await raw();
      return { ...r, chainDer: Buffer.concat([r.chainDer, Buffer.from([1, 2, 3])]) };
    },
    /not a sequence of DER certificates/,
  ],
  ['a DER sequence that is not a certificate', async () => ({ ...(await raw()), chainDer: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]) }), /certificate 1 cannot be parsed/],
  ['no URI SAN', async () => raw({ leaf: { uris: [] } }), /exactly one URI SAN, has 0/],
  ['two URI SANs', async () => raw({ leaf: { uris: [ID, 'spiffe://example.org/other'] } }), /exactly one URI SAN, has 2/],
  ['non-spiffe URI SAN', async () => ({ ...(await raw({ leaf: { uris: ['https://example.org/x'] } })), spiffeId: ID }), /not a valid SPIFFE ID/],
  ['invalid SPIFFE ID in SAN', async () => raw({ leaf: { uris: ['spiffe://Example.org/x'] } }), /not a valid SPIFFE ID/],
  ['trust domain ID without path', async () => raw({ leaf: { uris: ['spiffe://example.org'] } }), /has no path/],
  ['SAN differs from spiffe_id', async () => ({ ...(await raw()), spiffeId: 'spiffe://example.org/other' }), /leaf certificate is for spiffe:\/\/example.org\/workload, the response says/],
  ['CA leaf', async () => raw({ leaf: { ca: true, keyUsage: KeyUsageFlags.digitalSignature } }), /must not have CA flag set to true/],
  ['no key usage', async () => raw({ leaf: { keyUsage: null } }), /no key usage extension/],
  ['no digitalSignature', async () => raw({ leaf: { keyUsage: KeyUsageFlags.keyEncipherment } }), /must have digitalSignature/],
  ['keyCertSign on the leaf', async () => raw({ leaf: { keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign } }), /must not have keyCertSign/],
  ['cRLSign on the leaf', async () => raw({ leaf: { keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.cRLSign } }), /must not have cRLSign/],
  ['expired leaf', async () => raw({ leaf: { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) } }), /leaf certificate expired at/],
  [
    'intermediate not a CA',
    async () => {
      const root = await issue({ ca: true });
      const notCa = await issue({ issuer: root, uris: ['spiffe://example.org/x'] });
      const leaf = await issue({ issuer: notCa, uris: [ID] });
      return { spiffeId: ID, chainDer: Buffer.concat([leaf.der, notCa.der]), keyDer: leaf.keyDer, hint: '' };
    },
    /intermediate certificate 1 is not a CA/,
  ],
  [
    'intermediate without keyCertSign',
    async () => {
      const root = await issue({ ca: true });
      const inter = await issue({ ca: true, issuer: root, keyUsage: KeyUsageFlags.cRLSign });
      const leaf = await issue({ issuer: inter, uris: [ID] });
      return { spiffeId: ID, chainDer: Buffer.concat([leaf.der, inter.der]), keyDer: leaf.keyDer, hint: '' };
    },
    /intermediate certificate 1 must have keyCertSign/,
  ],
  ['key of another certificate', async () => ({ ...(await raw()), keyDer: (await raw()).keyDer }), /private key does not match the leaf certificate/],
  ['key of another type', async () => ({ ...(await raw()), keyDer: (await raw({ keyType: 'rsa-2048' })).keyDer }), /private key does not match/],
  ['key not PKCS#8', async () => ({ ...(await raw()), keyDer: Buffer.from('not a key') }), /private key is not unencrypted PKCS#8 DER/],
  ['empty key', async () => ({ ...(await raw()), keyDer: Buffer.alloc(0) }), /private key is not unencrypted PKCS#8 DER/],
];

for (const [name, make, message] of cases) {
  test(`x509svid rejects: ${name}`, async () => {
    const r = await make();
    assert.throws(
      () => parseX509Svid(r),
      (e) => isHelperError(e, 'x509svid') && message.test(e.message),
    );
  });
}

test('other SAN types beside the URI are allowed', async () => {
  const svid = parseX509Svid(await raw({ leaf: { uris: [ID], dnsNames: ['svc.example.org'] } }));
  assert.equal(svid.id.toString(), ID);
});
