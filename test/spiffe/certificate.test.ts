import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseCertificate } from '../../src/spiffe/certificate.js';
import { privateKeyMatches } from '../../src/spiffe/private-key.js';
import { children, decodeOid, readTlv } from '../../src/spiffe/der.js';
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
    ['a duplicated extension (which copy counts would be ambiguous)', (d) => duplicateFirstExtension(d), /extension 2\.5\.29\.\d+ appears twice/],
    [
      'the signature missing',
      (d) => {
        const tbs = readTlv(d, readTlv(d, 0).start);
        return sequence(d.subarray(readTlv(d, 0).start, tbs.next));
      },
      /not a certificate/,
    ],
  ];
  it('serial 0 prints as node:crypto prints it; negative or padded serials are refused (as Go does)', async () => {
    // A valid certificate whose serial INTEGER is then replaced by another of the same length.
    const withSerial = async (serialNumber: string, from: string, to: string): Promise<Buffer> => {
      const der = (await issue({ serialNumber, notAfter: new Date('2049-12-31T23:59:59Z') })).der;
      assert.ok(der.includes(Buffer.from(from, 'latin1')));
      return Buffer.from(der.toString('latin1').replace(from, to), 'latin1');
    };
    const zero = await withSerial('7f', '\x02\x01\x7f', '\x02\x01\x00');
    assert.equal(parseCertificate(zero).serial, new X509Certificate(zero).serialNumber);
    const negative = await withSerial('7f', '\x02\x01\x7f', '\x02\x01\xff');
    assert.throws(() => parseCertificate(negative), /negative serialNumber/);
    const padded = await withSerial('0100', '\x02\x02\x01\x00', '\x02\x02\x00\x7f');
    assert.throws(() => parseCertificate(padded), /not minimally encoded/);
  });

  it('OIDs must be minimally encoded and complete (OpenSSL and Go refuse others)', () => {
    assert.equal(decodeOid(Buffer.of(0x55, 0x1d, 0x0f)), '2.5.29.15');
    assert.equal(decodeOid(Buffer.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01)), '1.2.840.10045.2.1');
    assert.throws(() => decodeOid(Buffer.of(0x55, 0x80, 0x1d, 0x0f)), /not minimally encoded/);
    assert.throws(() => decodeOid(Buffer.of(0x55, 0x1d, 0x8f)), /ends inside a subidentifier/);
  });

  for (const [name, breakIt, message] of broken) {
    it(`rejects ${name}`, async () => {
      const c = await issue({ notAfter: new Date('2049-12-31T23:59:59Z') });
      assert.throws(() => parseCertificate(Buffer.from(breakIt(c.der))), message);
    });
  }
});

/** DER: tag, definite length, content. */
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.of(tag, ...len), body]);
}
const sequence = (content: Buffer): Buffer => tlv(0x30, content);

type Tlv = ReturnType<typeof readTlv>;
/** An element with its header (DER lengths are minimal, so the header size follows from the content's). */
function whole(der: Buffer, t: Tlv): Buffer {
  const n = t.end - t.start;
  return der.subarray(t.start - (n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5), t.next);
}

/** The certificate re-encoded with a copy of its first extension appended (the signature is never checked here). */
function duplicateFirstExtension(der: Buffer): Buffer {
  const [tbs, sigAlg, sig] = children(der, readTlv(der, 0)) as [Tlv, Tlv, Tlv];
  const fields = children(der, tbs);
  const exts = children(der, fields.find((f) => f.tag === 0xa3)!)[0]!;
  const first = children(der, exts)[0]!;
  const newExts = tlv(0xa3, tlv(0x30, der.subarray(exts.start, exts.end), whole(der, first)));
  const others = fields.filter((f) => f.tag !== 0xa3).map((f) => whole(der, f));
  return tlv(0x30, tlv(0x30, ...others, newExts), whole(der, sigAlg), whole(der, sig));
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

  it('an EC key whose embedded public point is not its own is refused (OpenSSL would trust the embedded point)', async () => {
    const a = await issue({ keyType: 'ec-p256' });
    const b = await issue({ keyType: 'ec-p256' });
    const pointOf = (keyDer: Buffer): Buffer => {
      const jwk = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
      return Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    };
    // b's scalar with a's public point embedded, checked against a's certificate.
    const liar = Buffer.from(b.keyDer);
    const at = liar.indexOf(pointOf(b.keyDer));
    assert.ok(at > 0, 'the PKCS#8 embeds the public point');
    pointOf(a.keyDer).copy(liar, at);
    const cert = parseCertificate(a.der);
    assert.throws(() => privateKeyMatches(liar, cert.publicKey, cert.raw), /does not belong to its private scalar/);
  });

  it('EC and RSA keys are read strictly: bad scalars, inconsistent RSA keys, other versions, extra fields', async () => {
    const ec = await issue({ keyType: 'ec-p256' });
    const rsa = await issue({ keyType: 'rsa-2048' });
    const check = (keyDer: Buffer, c: typeof ec) => {
      const cert = parseCertificate(c.der);
      return privateKeyMatches(keyDer, cert.publicKey, cert.raw);
    };
    // Rebuilds a PKCS#8 key from its parts (lengths recomputed).
    const rebuild = (der: Buffer, edit: (parts: { version: Buffer; alg: Buffer; inner: Buffer[]; extra: Buffer[] }) => void): Buffer => {
      const [version, alg, key, ...extra] = children(der, readTlv(der, 0)) as Tlv[];
      const inner = children(der, readTlv(der, key!.start, key!.end)).map((t) => whole(der, t));
      const parts = { version: whole(der, version!), alg: whole(der, alg!), inner, extra: extra.map((t) => whole(der, t)) };
      edit(parts);
      return tlv(0x30, parts.version, parts.alg, tlv(0x04, tlv(0x30, ...parts.inner)), ...parts.extra);
    };
    assert.equal(
      check(
        rebuild(ec.keyDer, () => undefined),
        ec,
      ),
      true,
      'the rebuild itself changes nothing',
    );
    // ECPrivateKey: [version, privateKey, [0]?, [1]?]
    assert.throws(
      () =>
        check(
          rebuild(ec.keyDer, (p) => void (p.inner[1] = tlv(0x04, Buffer.alloc(32)))),
          ec,
        ),
      /not valid for its curve/,
    );
    assert.throws(
      () =>
        check(
          rebuild(ec.keyDer, (p) => void (p.inner[0] = tlv(0x02, Buffer.of(2)))),
          ec,
        ),
      /ECPrivateKey version must be 1/,
    );
    assert.throws(
      () =>
        check(
          rebuild(ec.keyDer, (p) => void p.inner.push(tlv(0x05))),
          ec,
        ),
      /unexpected fields in ECPrivateKey/,
    );
    assert.throws(
      () =>
        check(
          rebuild(ec.keyDer, (p) => void (p.version = tlv(0x02, Buffer.of(1)))),
          ec,
        ),
      /PKCS#8 version must be 0/,
    );
    assert.throws(
      () =>
        check(
          rebuild(ec.keyDer, (p) => void p.extra.push(tlv(0x81, Buffer.of(0)))),
          ec,
        ),
      /unexpected fields after the PKCS#8 private key/,
    );
    // RSAPrivateKey: [version, n, e, d, p, q, dp, dq, qi]; junk primes with the right n and e
    // would pass a modulus comparison alone, and sign nothing the certificate verifies.
    assert.equal(
      check(
        rebuild(rsa.keyDer, () => undefined),
        rsa,
      ),
      true,
    );
    assert.throws(
      () =>
        check(
          rebuild(rsa.keyDer, (p) => void (p.inner[4] = tlv(0x02, Buffer.alloc(128, 0x33)))),
          rsa,
        ),
      /p·q is not its modulus/,
    );
  });

  it("DER that is not a PKCS#8 key throws with OpenSSL's reason", async () => {
    const cert = parseCertificate((await issue()).der);
    assert.throws(() => privateKeyMatches(Buffer.from('not a key'), cert.publicKey, cert.raw), /DECODER|unsupported|error/i);
    assert.throws(() => privateKeyMatches(Buffer.of(0x30, 0x03, 0x02, 0x01, 0x00), cert.publicKey, cert.raw));
  });
});
