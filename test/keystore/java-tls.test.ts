import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeKeystore, encodeTruststore, trustDomainCertificates, type Pkcs12Format } from '../../src/keystore/pkcs12.js';
import { issue, svidChain, type KeyType } from '../helpers/certs.js';
import { tempDir } from '../helpers/tmp.js';
import { compileServer, jdks, startServer, type Jdk } from './java.js';

/**
 * A real JVM TLS server loads the keystore and truststore and requires a client certificate;
 * openssl s_client, with PEM files as the helper writes them, completes mutual TLS against it.
 * Restarted on a keystore with a renewed SVID, it presents the new serial.
 */

const PASSWORD = 'changeit';
const KEY_TYPES: KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'];
const JDKS = jdks();

const pem = (der: Buffer): string => new X509Certificate(der).toString();
const keyPem = (der: Buffer): string => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;

interface Handshake {
  /** The certificate the server presented. */
  server: X509Certificate;
  /** What the server said about the client's certificate (s_client may print it mid-line, after a session ticket dump). */
  reply: string;
}

/** s_client with the client's svid.pem (leaf, then the intermediates it must send too), svid_key.pem and bundle.pem. */
function connect(port: number, dir: string): Handshake {
  const r = spawnSync(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-cert', join(dir, 'svid.pem'), '-cert_chain', join(dir, 'svid.pem'), '-key', join(dir, 'svid_key.pem'), '-CAfile', join(dir, 'bundle.pem'), '-verify_return_error', '-ign_eof'],
    { encoding: 'utf8', input: '', timeout: 30_000 },
  );
  assert.equal(r.status, 0, `s_client failed: ${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
  const server = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(r.stdout);
  assert.ok(server, r.stdout);
  return { server: new X509Certificate(server[0]), reply: /CLIENT \S+ SERIAL \S+/.exec(r.stdout)?.[0] ?? '' };
}

async function scenario(jdk: Jdk, classDir: string, keyType: KeyType, format: Pkcs12Format, rotate: boolean): Promise<void> {
  const dir = tempDir('ks-');
  const c = await svidChain('spiffe://example.org/server', { keyType, intermediate: true });
  const client = await issue({ keyType, issuer: c.inter!, uris: ['spiffe://example.org/client'], name: 'client' });
  // The client's files, as the helper writes them: leaf then intermediate, PKCS#8 key, the bundle.
  writeFileSync(join(dir, 'svid.pem'), pem(client.der) + pem(c.inter!.der));
  writeFileSync(join(dir, 'svid_key.pem'), keyPem(client.keyDer));
  writeFileSync(join(dir, 'bundle.pem'), pem(c.root.der));

  const keystore = join(dir, 'keystore.p12');
  const truststore = join(dir, 'truststore.p12');
  writeFileSync(keystore, encodeKeystore({ alias: 'spiffe', keyDer: c.leaf.keyDer, chainDer: [c.leaf.der, c.inter!.der] }, { password: PASSWORD, format }));
  writeFileSync(truststore, encodeTruststore(trustDomainCertificates('example.org', [c.root.der]), { password: PASSWORD, format }));

  const first = await startServer(jdk, classDir, keystore, truststore, PASSWORD);
  const h1 = connect(first.port, dir);
  await first.stop();
  assert.ok(h1.server.raw.equals(c.leaf.der), 'the server presented the keystore leaf');
  assert.equal(h1.reply, `CLIENT CN=client SERIAL ${BigInt(`0x${new X509Certificate(client.der).serialNumber}`).toString(16)}`);
  assert.deepEqual(first.output, []);
  if (!rotate) return;

  const renewed = await issue({ keyType, issuer: c.inter!, uris: ['spiffe://example.org/server'], name: 'workload' });
  writeFileSync(keystore, encodeKeystore({ alias: 'spiffe', keyDer: renewed.keyDer, chainDer: [renewed.der, c.inter!.der] }, { password: PASSWORD, format }));
  const second = await startServer(jdk, classDir, keystore, truststore, PASSWORD);
  const h2 = connect(second.port, dir);
  await second.stop();
  assert.equal(h2.server.serialNumber, new X509Certificate(renewed.der).serialNumber);
  assert.notEqual(h2.server.serialNumber, h1.server.serialNumber);
}

describe('a Java TLS server with the keystore and truststore, mutual TLS with openssl s_client', () => {
  it('the machine has a JDK', () => assert.ok(JDKS.length > 0, 'no javac found on PATH or under /usr/lib/jvm'));
  for (const jdk of JDKS) {
    describe(`Java ${jdk.version}`, () => {
      // Created here, not in a test, so it lives as long as this describe block.
      const classDir = tempDir('ksj-');
      it('javac compiles the server', () => compileServer(jdk, classDir));
      for (const keyType of KEY_TYPES) {
        const rotate = keyType === 'ec-p256';
        it(`${keyType}: mutual TLS${rotate ? ', then a new keystore presents the new serial' : ''}`, () => scenario(jdk, classDir, keyType, 'aes256-sha256', rotate));
      }
      it('ec-p256, legacy format: mutual TLS', () => scenario(jdk, classDir, 'ec-p256', 'legacy-3des-sha1', false));
    });
  }
});
