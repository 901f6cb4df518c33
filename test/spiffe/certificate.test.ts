import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseCertificate } from '../../src/spiffe/certificate.js';
import { privateKeyMatches } from '../../src/spiffe/private-key.js';
import { readTlv } from '../../src/spiffe/der.js';
import { issue, type KeyType } from '../helpers/certs.js';

const KEY_TYPES: KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'];
const ALGORITHM: Record<KeyType, string> = {
  'ec-p256': '1.2.840.10045.2.1',
  'ec-p384': '1.2.840.10045.2.1',
  'rsa-2048': '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
};

describe('parseCertificate reads what node:crypto (OpenSSL) reads', () => {
  // Serials with a leading zero byte, with the high bit set (DER then prepends 00) and a
  // single byte; validity in UTCTime (before 2050) and GeneralizedTime (2050 and later).
  const shapes = [
    { serialNumber: '01', notAfter: new Date('2049-12-31T23:59:59Z') },
    { serialNumber: '00ff10', notAfter: new Date('2050-01-01T00:00:00Z') },
    { serialNumber: 'f3a9c0ffee0123456789abcdef', notAfter: new Date('2126-06-30T12:34:56Z') },
  ];
  for (const keyType of KEY_TYPES) {
    for (const shape of shapes) {
      it(`${keyType}, serial ${shape.serialNumber}, notAfter ${shape.notAfter.toISOString()}`, async () => {
        const c = await issue({ keyType, ...shape, notBefore: new Date('1999-02-03T04:05:06Z'), uris: ['spiffe://example.org/w'] });
        const ours = parseCertificate(c.der);
        const theirs = new X509Certificate(c.der);
        assert.equal(ours.serial, theirs.serialNumber);
        assert.equal(ours.notBefore.getTime(), new Date(theirs.validFrom).getTime());
        assert.equal(ours.notAfter.getTime(), new Date(theirs.validTo).getTime());
        assert.equal(ours.publicKey.algorithm, ALGORITHM[keyType]);
        assert.deepEqual(ours.extensions.uris, ['spiffe://example.org/w']);
        assert.ok(ours.raw.equals(c.der));
        // The key bytes are the BIT STRING at the end of the SPKI node:crypto exports.
        const spki = theirs.publicKey.export({ format: 'der', type: 'spki' });
        assert.ok(spki.subarray(spki.length - ours.publicKey.key.length).equals(ours.publicKey.key));
      });
    }
  }

  const mangle = (der: Buffer, from: string, to: string): Buffer => Buffer.from(der.toString('latin1').replace(from, to), 'latin1');
  const broken: [string, (der: Buffer) => Buffer, RegExp][] = [
    ['trailing bytes', (d) => Buffer.concat([d, Buffer.of(0)]), /not a single DER SEQUENCE/],
    ['a time with a local offset', (d) => mangle(d, '491231235959Z', '491231235959+'), /not an RFC 5280 time/],
    ['an impossible date', (d) => mangle(d, '491231235959Z', '491331235959Z'), /not a valid date/],
    ['the signature missing', (d) => { const tbs = readTlv(d, readTlv(d, 0).start); return sequence(d.subarray(readTlv(d, 0).start, tbs.next)); }, /not a certificate/],
  ];
  for (const [name, breakIt, message] of broken) {
    it(`rejects ${name}`, async () => {
      const c = await issue({ notAfter: new Date('2049-12-31T23:59:59Z') });
      assert.throws(() => parseCertificate(Buffer.from(breakIt(c.der))), message);
    });
  }
});

/** A DER SEQUENCE around `content` (two-byte long-form length). */
function sequence(content: Buffer): Buffer {
  return Buffer.concat([Buffer.of(0x30, 0x82, content.length >> 8, content.length & 0xff), content]);
}

describe('privateKeyMatches', () => {
  for (const keyType of KEY_TYPES) {
    it(`${keyType}: its own key matches, another key of the same type does not`, async () => {
      const a = await issue({ keyType });
      const b = await issue({ keyType });
      const cert = parseCertificate(a.der);
      assert.equal(privateKeyMatches(a.keyDer, cert.publicKey, cert.raw), true);
      assert.equal(privateKeyMatches(b.keyDer, cert.publicKey, cert.raw), false);
    });
  }

  it('keys of another type or curve do not match', async () => {
    const certs = await Promise.all(KEY_TYPES.map((keyType) => issue({ keyType })));
    for (const c of certs) {
      const cert = parseCertificate(c.der);
      for (const other of certs) {
        if (other !== c) assert.equal(privateKeyMatches(other.keyDer, cert.publicKey, cert.raw), false, `${other.keyType} key, ${c.keyType} certificate`);
      }
    }
  });

  it('an EC key whose embedded public point belongs to another key does not match (the point is recomputed)', async () => {
    const a = await issue({ keyType: 'ec-p256' });
    const b = await issue({ keyType: 'ec-p256' });
    const pointOf = (keyDer: Buffer): Buffer => {
      const jwk = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
      return Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    };
    // b's scalar with a's public point embedded: OpenSSL would compare the embedded point.
    const liar = Buffer.from(b.keyDer);
    const at = liar.indexOf(pointOf(b.keyDer));
    assert.ok(at > 0, 'the PKCS#8 embeds the public point');
    pointOf(a.keyDer).copy(liar, at);
    const cert = parseCertificate(a.der);
    assert.equal(privateKeyMatches(liar, cert.publicKey, cert.raw), false);
  });

  it('DER that is not a PKCS#8 key throws with OpenSSL\'s reason', async () => {
    const cert = parseCertificate((await issue()).der);
    assert.throws(() => privateKeyMatches(Buffer.from('not a key'), cert.publicKey, cert.raw), /DECODER|unsupported|error/i);
    assert.throws(() => privateKeyMatches(Buffer.of(0x30, 0x03, 0x02, 0x01, 0x00), cert.publicKey, cert.raw));
  });
});
