import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { importJWK, jwtVerify, decodeProtectedHeader } from 'jose';
import { DevCa, keyTypes } from '../../src/dev/ca.js';
import { JwtIssuer, verifyJwtSvid } from '../../src/dev/jwt-issuer.js';
import { isHelperError } from '../../src/errors.js';
import { splitDerSequence } from '../../src/spiffe/der.js';
import { SpiffeId, TrustDomain } from '../../src/spiffe/id.js';
import { toPem } from '../../src/spiffe/pem.js';
import { parseX509Svid } from '../../src/spiffe/x509svid.js';

const td = TrustDomain.parse('example.org');
const workload = SpiffeId.parse('spiffe://example.org/ns/app/sa/web');
const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

const dir = mkdtempSync(join(tmpdir(), 'sh-ca-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `openssl verify` exit status and output, with the chain written as PEM files. */
function opensslVerify(name: string, chainDer: Buffer, bundleDer: Buffer): string {
  const [leaf, ...intermediates] = splitDerSequence(chainDer);
  const write = (file: string, certs: Buffer[]) => {
    const path = join(dir, `${name}-${file}`);
    writeFileSync(path, certs.map((c) => toPem('CERTIFICATE', c)).join(''));
    return path;
  };
  const args = ['verify', '-CAfile', write('bundle.pem', splitDerSequence(bundleDer))];
  if (intermediates.length > 0) args.push('-untrusted', write('intermediate.pem', intermediates));
  args.push(write('leaf.pem', [leaf!]));
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

describe('DevCa X.509-SVIDs', () => {
  for (const keyType of keyTypes) {
    it(`issues a valid ${keyType} SVID that chains to the bundle`, async () => {
      const ca = await DevCa.create({ trustDomain: td, keyType });
      const svid = await ca.issueX509Svid({ spiffeId: workload, ttlSeconds: 120 });
      const parsed = parseX509Svid({ spiffeId: workload.toString(), chainDer: svid.chainDer, keyDer: svid.keyDer, hint: '' });
      assert.equal(parsed.id.toString(), workload.toString());
      assert.equal(parsed.certificates.length, 1);
      assert.equal(parsed.serial, svid.serial);
      assert.equal(parsed.notAfter.getTime(), svid.notAfter.getTime());
      const remaining = svid.notAfter.getTime() - Date.now();
      assert.ok(remaining > 110_000 && remaining <= 120_000, `notAfter is ${remaining} ms away`);

      const leaf = new X509Certificate(parsed.certificates[0]!.raw);
      const root = new X509Certificate(svid.bundleDer);
      assert.ok(leaf.verify(root.publicKey), 'leaf is signed by the root');
      assert.deepEqual(leaf.keyUsage, [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]);
      assert.ok(new Date(leaf.validFrom).getTime() < Date.now() - 1000, 'notBefore is back-dated');
      assert.ok(root.ca);
      assert.equal(root.subjectAltName, 'URI:spiffe://example.org');
      if (hasOpenssl) assert.match(opensslVerify(keyType, svid.chainDer, svid.bundleDer), /leaf\.pem: OK/);
    });
  }

  it('issues a leaf-type key different from the CA key type when asked', async () => {
    const ca = await DevCa.create({ trustDomain: td });
    const svid = await ca.issueX509Svid({ spiffeId: workload, ttlSeconds: 60, keyType: 'rsa-2048' });
    const parsed = parseX509Svid({ spiffeId: workload.toString(), chainDer: svid.chainDer, keyDer: svid.keyDer, hint: '' });
    assert.equal(parsed.certificates[0]!.publicKey.algorithm, '1.2.840.113549.1.1.1', 'an RSA key');
    assert.ok(new X509Certificate(parsed.certificates[0]!.raw).verify(new X509Certificate(svid.bundleDer).publicKey));
  });

  it('gives every SVID a fresh key and serial', async () => {
    const ca = await DevCa.create({ trustDomain: td });
    const a = await ca.issueX509Svid({ spiffeId: workload, ttlSeconds: 60 });
    const b = await ca.issueX509Svid({ spiffeId: workload, ttlSeconds: 60 });
    assert.notEqual(a.serial, b.serial);
    assert.ok(!a.keyDer.equals(b.keyDer));
    assert.ok(a.bundleDer.equals(b.bundleDer), 'the bundle is stable across issues');
  });

  it('chains leaf → intermediate → root when intermediate is on', async () => {
    const ca = await DevCa.create({ trustDomain: td, intermediate: true });
    const svid = await ca.issueX509Svid({ spiffeId: workload, ttlSeconds: 60 });
    const parsed = parseX509Svid({ spiffeId: workload.toString(), chainDer: svid.chainDer, keyDer: svid.keyDer, hint: '' });
    assert.equal(parsed.certificates.length, 2);
    const [leaf, intermediate] = parsed.certificates.map((c) => new X509Certificate(c.raw)) as [X509Certificate, X509Certificate];
    const roots = splitDerSequence(svid.bundleDer).map((d) => new X509Certificate(d));
    assert.equal(roots.length, 1, 'the bundle holds the root only');
    assert.ok(intermediate.ca);
    assert.ok(leaf.checkIssued(intermediate) && leaf.verify(intermediate.publicKey));
    assert.ok(intermediate.checkIssued(roots[0]!) && intermediate.verify(roots[0]!.publicKey));
    assert.ok(!leaf.verify(roots[0]!.publicKey), 'the root did not sign the leaf directly');
    if (hasOpenssl) assert.match(opensslVerify('intermediate', svid.chainDer, svid.bundleDer), /leaf\.pem: OK/);
  });

  it('refuses IDs outside its trust domain and trust domain IDs', async () => {
    const ca = await DevCa.create({ trustDomain: td });
    for (const id of ['spiffe://other.org/w', 'spiffe://example.org']) {
      await assert.rejects(ca.issueX509Svid({ spiffeId: SpiffeId.parse(id), ttlSeconds: 60 }), (e) => isHelperError(e, 'spiffe-id'));
    }
  });

  it('rejects an unknown key type with a usage error naming the choices', async () => {
    await assert.rejects(DevCa.create({ trustDomain: td, keyType: 'dsa' as never }), (e) => isHelperError(e, 'usage') && /ec-p256, ec-p384, rsa-2048, ed25519/.test(e.message));
  });
});

describe('DevCa JWT-SVIDs', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    it(`signs ${alg} tokens that jose verifies against jwks()`, async () => {
      const ca = await DevCa.create({ trustDomain: td, jwtAlg: alg });
      const token = await ca.signJwtSvid({ spiffeId: workload, audience: ['db', 'cache'], ttlSeconds: 300 });
      const header = decodeProtectedHeader(token);
      assert.deepEqual(header, { alg, kid: header.kid, typ: 'JWT' });
      const jwks = ca.jwks();
      assert.equal(jwks.keys.length, 1);
      const jwk = jwks.keys.find((k) => k.kid === header.kid);
      assert.ok(jwk, 'the token kid is in the JWKS');
      assert.equal(jwk.use, 'jwt-svid');
      // jose's JWKS helpers only take `use: "sig"` keys, so import the key directly.
      const { payload } = await jwtVerify(token, await importJWK(jwk, alg), { audience: 'cache', algorithms: [alg] });
      assert.equal(payload.sub, workload.toString());
      assert.deepEqual(payload.aud, ['db', 'cache']);
      assert.equal(payload.exp! - payload.iat!, 300);
    });
  }

  it('writes a single audience as a string, like SPIRE', async () => {
    const ca = await DevCa.create({ trustDomain: td });
    const token = await ca.signJwtSvid({ spiffeId: workload, audience: ['db'], ttlSeconds: 60 });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(payload.aud, 'db');
  });

  it('keeps a stable kid', async () => {
    const ca = await DevCa.create({ trustDomain: td });
    const kids = await Promise.all([1, 2].map(async () => decodeProtectedHeader(await ca.signJwtSvid({ spiffeId: workload, audience: ['a'], ttlSeconds: 60 })).kid));
    assert.equal(kids[0], kids[1]);
    assert.equal(ca.jwks().keys[0]!.kid, kids[0]);
  });
});

describe('verifyJwtSvid', () => {
  const issuerPromise = JwtIssuer.create(td);
  const check = async (token: string, audience = 'db', now = new Date()) => {
    const issuer = await issuerPromise;
    return verifyJwtSvid(token, audience, (name) => (name === td.name ? issuer : undefined), now);
  };
  const sign = async (now = new Date()) => (await issuerPromise).sign(workload, ['db'], 60, now);

  it('returns the SPIFFE ID and claims of a good token', async () => {
    const { spiffeId, claims } = await check(await sign());
    assert.equal(spiffeId.toString(), workload.toString());
    assert.equal(claims.aud, 'db');
  });

  it('rejects a tampered payload, a wrong audience, an expired token and a foreign issuer', async () => {
    const token = await sign();
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'spiffe://example.org/admin', aud: 'db', exp: 9e9, iat: 0 })).toString('base64url');
    const foreignKey = (await JwtIssuer.create(td)).sign(workload, ['db'], 60);
    const foreignDomain = (await JwtIssuer.create(TrustDomain.parse('x.org'))).sign(SpiffeId.parse('spiffe://x.org/w'), ['db'], 60);
    const expired = await sign(new Date(Date.now() - 120_000));
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['tampered', () => check(`${h}.${forged}.${s}`), /signature does not verify/],
      ['audience', () => check(token, 'web'), /audience "web" is not in "aud"/],
      ['expired', () => check(expired), /expired at/],
      ['foreign key', () => check(foreignKey), /is not in the bundle/],
      ['foreign domain', () => check(foreignDomain), /no bundle for/],
      ['garbage', () => check('not-a-jwt'), /compact JWS/],
    ];
    for (const [name, attempt, message] of cases) {
      await assert.rejects(attempt, (e) => isHelperError(e, 'jwtsvid') && message.test(e.message), name);
    }
  });
});
