import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeKeystore, encodeTruststore, trustDomainCertificates, type Pkcs12Format } from '../../src/keystore/pkcs12.js';
import { svidChain, type KeyType } from '../helpers/certs.js';
import { tempDir } from '../helpers/tmp.js';
import { jdks, keytoolList } from './java.js';

/** keytool and openssl, readers nobody here wrote, read both stores for every key type and format. */

const KEY_TYPES: KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'];
const FORMATS: Pkcs12Format[] = ['aes256-sha256', 'legacy-3des-sha1'];
const PASSWORD = 's3cret pass';
const JDKS = jdks();

/** keytool prints serials in lower-case hex without leading zeros. */
const keytoolSerial = (der: Buffer): string => BigInt(`0x${new X509Certificate(der).serialNumber}`).toString(16);

async function stores(keyType: KeyType, format: Pkcs12Format) {
  const dir = tempDir('ks-');
  const c = await svidChain('spiffe://example.org/w', { keyType, intermediate: true });
  const fed = await svidChain('spiffe://other.test/w', { keyType });
  const keystore = join(dir, 'keystore.p12');
  const truststore = join(dir, 'truststore.p12');
  writeFileSync(keystore, encodeKeystore({ alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der, c.inter!.der] }, { password: PASSWORD, format }));
  const trusted = [...trustDomainCertificates('example.org', [c.root.der]), ...trustDomainCertificates('other.test', [fed.root.der])];
  writeFileSync(truststore, encodeTruststore(trusted, { password: PASSWORD, format }));
  return { c, fed, keystore, truststore };
}

describe('keytool -list -v reads the keystore and the truststore', () => {
  it('the machine has a JDK', () => assert.ok(JDKS.length > 0, 'no javac/keytool found on PATH or under /usr/lib/jvm'));
  for (const jdk of JDKS) {
    for (const keyType of KEY_TYPES) {
      for (const format of FORMATS) {
        it(`Java ${jdk.version}, ${keyType}, ${format}`, async () => {
          const { c, fed, keystore, truststore } = await stores(keyType, format);
          const ks = keytoolList(jdk, keystore, PASSWORD);
          assert.match(ks, /Your keystore contains 1 entry/);
          assert.match(ks, /Alias name: spiffe\nCreation date: .*\nEntry type: PrivateKeyEntry\nCertificate chain length: 2\n/);
          const serials = [...ks.matchAll(/^Serial number: (\S+)$/gm)].map((m) => m[1]);
          assert.deepEqual(serials, [keytoolSerial(c.leaf.der), keytoolSerial(c.inter!.der)]);

          const ts = keytoolList(jdk, truststore, PASSWORD);
          assert.match(ts, /Your keystore contains 2 entries/);
          const entries = [...ts.matchAll(/^Alias name: (\S+)\nCreation date: .*\nEntry type: (\S+)\n\nOwner: (.*)\n.*\nSerial number: (\S+)$/gm)].map((m) => m.slice(1));
          assert.deepEqual(entries, [
            ['example.org-1', 'trustedCertEntry', 'CN=example.org root', keytoolSerial(c.root.der)],
            ['other.test-1', 'trustedCertEntry', 'CN=other.test root', keytoolSerial(fed.root.der)],
          ]);
        });
      }
    }
  }
});

describe('openssl pkcs12 reads the keystore and the truststore', () => {
  for (const keyType of KEY_TYPES) {
    for (const format of FORMATS) {
      for (const legacy of format === 'legacy-3des-sha1' ? [false, true] : [false]) {
        it(`${keyType}, ${format}${legacy ? ', openssl -legacy' : ''}`, async () => {
          const { c, keystore, truststore } = await stores(keyType, format);
          const openssl = (file: string, ...args: string[]) =>
            execFileSync('openssl', ['pkcs12', ...(legacy ? ['-legacy'] : []), '-in', file, '-passin', `pass:${PASSWORD}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
          const scheme = format === 'aes256-sha256' ? 'PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256' : 'pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048';
          const mac = format === 'aes256-sha256' ? 'MAC: sha256, Iteration 10000' : 'MAC: sha1, Iteration 2048';
          const ksInfo = info(legacy, keystore);
          assert.ok(ksInfo.includes(mac), ksInfo);
          assert.ok(ksInfo.includes(`PKCS7 Encrypted data: ${scheme}\nCertificate bag\nCertificate bag\n`), ksInfo);
          assert.ok(ksInfo.includes(`Shrouded Keybag: ${scheme}`), ksInfo);
          const tsInfo = info(legacy, truststore);
          assert.ok(tsInfo.includes(mac), tsInfo);
          assert.ok(tsInfo.includes(`PKCS7 Encrypted data: ${scheme}\nCertificate bag\nCertificate bag\n`), tsInfo);

          const dump = openssl(keystore, '-nodes');
          assert.match(dump, /friendlyName: spiffe/);
          const certs = [...dump.matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).raw);
          assert.deepEqual(certs, [c.leaf.der, c.inter!.der]);
          assert.match(dump, /-----BEGIN PRIVATE KEY-----/);

          const trust = openssl(truststore, '-nokeys');
          assert.equal((trust.match(/2\.16\.840\.1\.113894\.746875\.1\.1/g) ?? []).length, 2, trust);
          assert.match(trust, /friendlyName: example\.org-1/);
          assert.match(trust, /friendlyName: other\.test-1/);
        });
      }
    }
  }
});

/** `openssl pkcs12 -info -noout`: the structure report, which OpenSSL 3.0 writes to stderr. */
function info(legacy: boolean, file: string): string {
  const r = spawnSync('openssl', ['pkcs12', ...(legacy ? ['-legacy'] : []), '-info', '-noout', '-in', file, '-passin', `pass:${PASSWORD}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout + r.stderr;
}
