import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeKeystore, encodeTruststore, trustDomainCertificates, type Pkcs12Format } from '../../src/keystore/pkcs12.js';
import { issue, svidChain, type KeyType } from '../helpers/certs.js';
import { startCli, writeConfig } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
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
    [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-cert',
      join(dir, 'svid.pem'),
      '-cert_chain',
      join(dir, 'svid.pem'),
      '-key',
      join(dir, 'svid_key.pem'),
      '-CAfile',
      join(dir, 'bundle.pem'),
      '-verify_return_error',
      '-ign_eof',
    ],
    { encoding: 'utf8', input: '', timeout: 30_000 },
  );
  assert.equal(r.status, 0, `s_client failed: ${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
  const server = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(r.stdout);
  assert.ok(server, r.stdout);
  return { server: new X509Certificate(server[0]), reply: /CLIENT [^\n]*? SERIAL \S+/.exec(r.stdout)?.[0] ?? '' };
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

/**
 * The same server on the files the helper wrote (daemon, dev agent): the client is the workload
 * itself, with the helper's PEM files. After a rotation the helper rewrote the stores, and the
 * restarted server presents the new serial.
 */
describe('a Java TLS server on the stores the helper wrote', () => {
  for (const jdk of JDKS) {
    it(`Java ${jdk.version}: mutual TLS, then after a rotation the new serial`, async () => {
      const dir = tempDir('ksh-');
      const classDir = tempDir('ksj-');
      compileServer(jdk, classDir);
      const agent = await devAgent(dir, { svidTtlSeconds: 3600, intermediate: true });
      writeFileSync(join(dir, 'pw'), PASSWORD);
      const config = writeConfig(dir, agent.address, `keystore_file_name = "keystore.p12"\ntruststore_file_name = "truststore.p12"\nkeystore_password_file = "${join(dir, 'pw')}"\n`);
      const run = startCli(['--config', config]);
      const certs = join(dir, 'certs');
      const leafSerial = (): string => {
        try {
          return new X509Certificate(readFileSync(join(certs, 'svid.pem'))).serialNumber;
        } catch {
          return '';
        }
      };
      try {
        await waitFor('the helper to write the stores', () => leafSerial() !== '' && existsSync(join(certs, 'truststore.p12')), 30_000);
        const first = leafSerial();
        const server = await startServer(jdk, classDir, join(certs, 'keystore.p12'), join(certs, 'truststore.p12'), PASSWORD);
        const h1 = connect(server.port, certs);
        await server.stop();
        assert.equal(h1.server.serialNumber, first, 'the server presents the SVID the helper wrote');
        assert.equal(h1.reply, `CLIENT O=spiffe-helper dev agent SERIAL ${BigInt(`0x${first}`).toString(16)}`, 'the server accepted the client certificate');

        await agent.rotate();
        // svid.pem is renamed in first, the stores after it: the log line says the whole set is in place.
        await waitFor('the helper to write the rotated set', () => run.stderr().split('x509 svid written').length - 1 === 2, 30_000);
        assert.notEqual(leafSerial(), first);
        const renewed = await startServer(jdk, classDir, join(certs, 'keystore.p12'), join(certs, 'truststore.p12'), PASSWORD);
        const h2 = connect(renewed.port, certs);
        await renewed.stop();
        assert.equal(h2.server.serialNumber, leafSerial());
        assert.notEqual(h2.server.serialNumber, first);
      } finally {
        run.child.kill('SIGTERM');
        await run.result;
      }
    });
  }
});
