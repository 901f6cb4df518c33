import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeKeystore, encodeTruststore, trustDomainCertificates } from '../../src/keystore/pkcs12.js';
import { readPkcs12 } from '../../src/keystore/read.js';
import { svidChain } from '../helpers/certs.js';
import { tempDir } from '../helpers/tmp.js';

const PASSWORD = 'changeit';
const pem = (der: Buffer): string => new X509Certificate(der).toString();
const keyPem = (der: Buffer): string => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;

describe('readPkcs12 reads stores other tools wrote', () => {
  const opensslCases = [
    { name: 'openssl pkcs12 -export (OpenSSL 3 defaults: PBES2, AES-256, SHA-256 MAC)', args: [] },
    { name: 'openssl pkcs12 -export -legacy -certpbe PBE-SHA1-3DES (3DES, SHA-1 MAC)', args: ['-legacy', '-certpbe', 'PBE-SHA1-3DES'] },
  ];
  for (const k of opensslCases) {
    it(k.name, async () => {
      const dir = tempDir('ks-');
      const c = await svidChain('spiffe://example.org/w', { intermediate: true });
      writeFileSync(join(dir, 'key.pem'), keyPem(c.leaf.keyDer));
      writeFileSync(join(dir, 'leaf.pem'), pem(c.leaf.der));
      writeFileSync(join(dir, 'inter.pem'), pem(c.inter!.der));
      const out = join(dir, 'o.p12');
      execFileSync('openssl', [
        'pkcs12',
        '-export',
        ...k.args,
        '-inkey',
        join(dir, 'key.pem'),
        '-in',
        join(dir, 'leaf.pem'),
        '-certfile',
        join(dir, 'inter.pem'),
        '-name',
        'web',
        '-passout',
        `pass:${PASSWORD}`,
        '-out',
        out,
      ]);
      const read = readPkcs12(readFileSync(out), PASSWORD);
      assert.equal(read.mac?.verified, true);
      assert.equal(read.keys[0]?.alias, 'web');
      assert.ok(read.keys[0]?.keyDer?.equals(c.leaf.keyDer));
      assert.deepEqual(
        read.keys[0]?.chain.map((x) => x.raw),
        [c.leaf.der, c.inter!.der],
      );
    });
  }

  it('openssl -legacy with its RC2-40 certificate encryption: a clear "not supported"', async () => {
    const dir = tempDir('ks-');
    const c = await svidChain('spiffe://example.org/w');
    writeFileSync(join(dir, 'key.pem'), keyPem(c.leaf.keyDer));
    writeFileSync(join(dir, 'leaf.pem'), pem(c.leaf.der));
    const out = join(dir, 'o.p12');
    execFileSync('openssl', ['pkcs12', '-export', '-legacy', '-inkey', join(dir, 'key.pem'), '-in', join(dir, 'leaf.pem'), '-passout', `pass:${PASSWORD}`, '-out', out]);
    assert.throws(() => readPkcs12(readFileSync(out), PASSWORD), /RC2-40\) is not supported/);
  });

  it('keytool -importcert truststore: the trusted entry under its alias', async () => {
    const dir = tempDir('ks-');
    const c = await svidChain('spiffe://example.org/w');
    writeFileSync(join(dir, 'ca.pem'), pem(c.root.der));
    const out = join(dir, 't.p12');
    execFileSync('keytool', ['-importcert', '-noprompt', '-alias', 'myca', '-file', join(dir, 'ca.pem'), '-keystore', out, '-storetype', 'PKCS12', '-storepass', PASSWORD], { stdio: 'ignore' });
    const read = readPkcs12(readFileSync(out), PASSWORD);
    assert.equal(read.mac?.verified, true);
    assert.deepEqual(
      read.trusted.map((t) => [t.alias, t.cert.raw]),
      [['myca', c.root.der]],
    );
  });

  it('keytool -genkeypair keystore: the key entry and its self-signed certificate', () => {
    const dir = tempDir('ks-');
    const out = join(dir, 'k.p12');
    execFileSync('keytool', ['-genkeypair', '-alias', 'server', '-keyalg', 'EC', '-groupname', 'secp256r1', '-dname', 'CN=server', '-keystore', out, '-storetype', 'PKCS12', '-storepass', PASSWORD], {
      stdio: 'ignore',
    });
    const read = readPkcs12(readFileSync(out), PASSWORD);
    assert.equal(read.keys[0]?.alias, 'server');
    assert.equal(read.keys[0]?.chain[0]?.subject, 'CN=server');
    assert.ok(read.keys[0]?.chain[0]?.checkPrivateKey(createPrivateKey({ key: read.keys[0]!.keyDer!, format: 'der', type: 'pkcs8' })));
  });
});

describe('readPkcs12 without the password, with a wrong one, on altered files', () => {
  it('without the password: lists the key alias, says the MAC, certificates and key are unchecked', async () => {
    const c = await svidChain('spiffe://example.org/w');
    const read = readPkcs12(encodeKeystore({ alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der] }, { password: PASSWORD }));
    assert.deepEqual(read.mac, { digest: 'sha256', iterations: 10_000, verified: false });
    assert.deepEqual(read.keys, [{ alias: 'spiffe', chain: [] }]);
    assert.deepEqual(read.unchecked, ['the MAC (integrity): needs the password', '1 encrypted part(s) (certificates, usually): need the password', 'the private keys: need the password']);
  });

  it('a wrong password: MAC verification failed', async () => {
    const c = await svidChain('spiffe://example.org/w');
    const p12 = encodeTruststore(trustDomainCertificates('example.org', [c.root.der]), { password: PASSWORD });
    assert.throws(() => readPkcs12(p12, 'wrong'), /MAC verification failed/);
  });

  it('one altered byte in the encrypted certificates: MAC verification failed', async () => {
    const c = await svidChain('spiffe://example.org/w');
    const p12 = encodeTruststore(trustDomainCertificates('example.org', [c.root.der]), { password: PASSWORD });
    p12[200]! ^= 1;
    assert.throws(() => readPkcs12(p12, PASSWORD), /MAC verification failed/);
  });

  it('a truncated file: an error, not a crash', async () => {
    const c = await svidChain('spiffe://example.org/w');
    const p12 = encodeTruststore(trustDomainCertificates('example.org', [c.root.der]), { password: PASSWORD });
    assert.throws(() => readPkcs12(p12.subarray(0, p12.length - 10), PASSWORD), /not a single DER SEQUENCE|truncated/);
  });
});

describe('readPkcs12 on hostile bytes', () => {
  it('altered or truncated stores: a plain Error with our message, never a TypeError or RangeError', async () => {
    const c = await svidChain('spiffe://example.org/w', { intermediate: true });
    // One iteration keeps the MAC cheap: the structure, not the KDF, is under test.
    const files = [
      encodeKeystore({ alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der, c.inter!.der] }, { password: PASSWORD, iterations: 1 }),
      encodeTruststore(trustDomainCertificates('example.org', [c.root.der]), { password: PASSWORD, iterations: 1 }),
    ];
    fc.assert(
      fc.property(fc.nat(1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.option(fc.nat()), fc.boolean(), (which, edits, cut, withPassword) => {
        const file = Buffer.from(files[which]!);
        for (const [at, value] of edits) file[at % file.length] = value;
        const input = cut === null ? file : file.subarray(0, cut % file.length);
        try {
          readPkcs12(input, withPassword ? PASSWORD : undefined);
        } catch (e) {
          assert.equal((e as Error).constructor, Error, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encoder refuses inputs no reader could use', () => {
  it('table', async () => {
    const c = await svidChain('spiffe://example.org/w');
    const entry = { alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der] };
    const cases: { name: string; run: () => unknown; error: RegExp }[] = [
      { name: 'empty password', run: () => encodeKeystore(entry, { password: '' }), error: /password is empty/ },
      { name: 'non-ASCII password (keytool 17 cannot open such a store)', run: () => encodeKeystore(entry, { password: 'pässwörd€' }), error: /printable ASCII/ },
      { name: 'control character in password', run: () => encodeKeystore(entry, { password: 'pass\n' }), error: /printable ASCII/ },
      { name: 'empty chain', run: () => encodeKeystore({ ...entry, chainDer: [] }, { password: PASSWORD }), error: /chain is empty/ },
      { name: 'empty alias', run: () => encodeKeystore({ ...entry, alias: '' }, { password: PASSWORD }), error: /alias is empty/ },
      { name: 'key not DER', run: () => encodeKeystore({ ...entry, keyDer: Buffer.from('-----BEGIN') }, { password: PASSWORD }), error: /private key is not a single DER SEQUENCE|truncated/ },
      { name: 'zero iterations', run: () => encodeKeystore(entry, { password: PASSWORD, iterations: 0 }), error: /iterations must be/ },
      {
        name: 'truststore aliases differing only in case',
        run: () =>
          encodeTruststore(
            [
              { alias: 'CA', certDer: c.root.der },
              { alias: 'ca', certDer: c.root.der },
            ],
            { password: PASSWORD },
          ),
        error: /alias "ca" appears twice/,
      },
      { name: 'empty truststore', run: () => encodeTruststore([], { password: PASSWORD }), error: /no certificates/ },
    ];
    for (const k of cases) assert.throws(k.run, k.error, k.name);
  });
});
