/**
 * Named chains for path validation: every way a chain can fail to verify, and the shapes that
 * must verify. Shared by the unit tests (test/spiffe/chain.test.ts), the refusal of agent
 * updates (test/workload/x509context.test.ts) and the go-spiffe cross-check (test/interop).
 */
import { createPrivateKey, generateKeyPairSync, KeyObject, sign, webcrypto, type JsonWebKey } from 'node:crypto';
import { children, readTlv } from '../../src/spiffe/der.js';
import { generateKeys, issue, KeyUsageFlags, type Issued } from './certs.js';
import { CA_EXT, leafExt, osslCert, type OsslOptions } from './openssl-certs.js';

export const CASE_ID = 'spiffe://example.org/workload';
const HOUR = 3_600_000;

export interface ChainCase {
  name: string;
  /** What verification says: undefined = verifies; else the refusal reason. */
  reason?: string;
  /** go-spiffe's x509svid.Verify (Go's crypto/x509) on the same files, where it differs it says why. */
  goSpiffe: 'accepts' | 'rejects';
  make(): Promise<{ chain: Buffer[]; keyDer: Buffer; bundle: Buffer[] }>;
}

const ago = (ms: number) => new Date(Date.now() - ms);
const ahead = (ms: number) => new Date(Date.now() + ms);

async function rootAndLeaf(leaf: Parameters<typeof issue>[0] = {}, root: Parameters<typeof issue>[0] = {}) {
  const r = await issue({ ca: true, uris: ['spiffe://example.org'], name: 'example.org root', ...root });
  const l = await issue({ uris: [CASE_ID], issuer: r, ...leaf });
  return { root: r, leaf: l };
}

async function withIntermediate(inter: Parameters<typeof issue>[0] = {}, root: Parameters<typeof issue>[0] = {}) {
  const r = await issue({ ca: true, uris: ['spiffe://example.org'], name: 'example.org root', ...root });
  const i = await issue({ ca: true, issuer: r, name: 'example.org intermediate', ...inter });
  const l = await issue({ uris: [CASE_ID], issuer: i });
  return { root: r, inter: i, leaf: l };
}

const out = (chain: Issued[], bundle: Issued[]) => ({ chain: chain.map((c) => c.der), keyDer: chain[0]!.keyDer, bundle: bundle.map((c) => c.der) });

/** A DER element (short lengths only: enough for the small values below). */
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
};
/** nameConstraints with URI subtrees: `permitted` in [0], `excluded` in [1]. */
const uriConstraints = (o: { permitted?: string[]; excluded?: string[] }): [string, boolean, Uint8Array] => {
  const subtrees = (tag: number, hosts: string[] = []) => (hosts.length ? [tlv(tag, ...hosts.map((h) => tlv(0x30, tlv(0x86, Buffer.from(h)))))] : []);
  return ['2.5.29.30', true, tlv(0x30, ...subtrees(0xa0, o.permitted), ...subtrees(0xa1, o.excluded))];
};

/** A root and a leaf made by openssl (`root`/`leaf`: options over a CA and an SVID of CASE_ID). */
function osslPair(root: Partial<OsslOptions> = {}, leaf: Partial<OsslOptions> = {}) {
  const r = osslCert({ name: 'example.org root', ext: CA_EXT, ...root });
  const l = osslCert({ name: 'workload', issuer: r, ext: leafExt(`URI:${CASE_ID}`), ...leaf });
  return { chain: [l.der], keyDer: l.keyDer, bundle: [r.der] };
}

/** A DER element of any length. */
function der(tag: number, body: Buffer): Buffer {
  if (body.length < 0x80) return Buffer.concat([Buffer.from([tag, body.length]), body]);
  const len = Buffer.from(body.length.toString(16).padStart(body.length > 0xffff ? 6 : 4, '0'), 'hex');
  return Buffer.concat([Buffer.from([tag, 0x80 | len.length]), len, body]);
}

/**
 * The leaf re-encoded by `edit` (its tbsCertificate's elements in, the new ones out) and signed
 * again by `issuer`: a certificate whose signature verifies, whatever its encoding.
 */
function reissue(leaf: Issued, issuer: Issued, edit: (fields: Buffer[]) => Buffer[]): Buffer {
  const [tbs, algorithm] = children(leaf.der, readTlv(leaf.der, 0));
  const fields = children(leaf.der, tbs!).map((t) => leaf.der.subarray(t.offset, t.next));
  const newTbs = der(0x30, Buffer.concat(edit(fields)));
  const signature = sign('sha256', newTbs, KeyObject.from(issuer.keys.privateKey));
  return der(0x30, Buffer.concat([newTbs, leaf.der.subarray(algorithm!.offset, algorithm!.next), der(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
}

/** A leaf whose extensions have the first `from` bytes replaced by `to` (same length), signed again. */
async function leafWithExtensionBytes(from: number[], to: number[]) {
  const c = await rootAndLeaf();
  const leaf = reissue(c.leaf, c.root, (fields) => {
    const extensions = Buffer.from(fields.at(-1)!);
    Buffer.from(to).copy(extensions, extensions.indexOf(Buffer.from(from)));
    return [...fields.slice(0, -1), extensions];
  });
  return { chain: [leaf], keyDer: c.leaf.keyDer, bundle: [c.root.der] };
}

/** Flips the last byte of the signature (the certificate's last byte). */
function tamper(der: Buffer): Buffer {
  const copy = Buffer.from(der);
  copy[copy.length - 1]! ^= 0x01;
  return copy;
}

export const chainCases: ChainCase[] = [
  // --- must verify -------------------------------------------------------------------------
  {
    name: 'leaf signed by the bundle CA',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf();
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'leaf, intermediate, bundle root',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await withIntermediate();
      return out([c.leaf, c.inter], [c.root]);
    },
  },
  {
    name: 'two intermediates sent in reverse order',
    goSpiffe: 'accepts',
    make: async () => {
      const root = await issue({ ca: true, name: 'root' });
      const upper = await issue({ ca: true, issuer: root, name: 'upper' });
      const lower = await issue({ ca: true, issuer: upper, name: 'lower' });
      const leaf = await issue({ uris: [CASE_ID], issuer: lower });
      return out([leaf, upper, lower], [root]);
    },
  },
  {
    name: 'an extra intermediate that is not on the path',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await withIntermediate();
      const stray = await issue({ ca: true, name: 'stray' });
      return out([c.leaf, c.inter, stray], [c.root]);
    },
  },
  {
    name: 'the bundle holds the intermediate itself',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await withIntermediate();
      return out([c.leaf], [c.inter]);
    },
  },
  {
    name: 'the bundle holds an expired CA besides the valid one (CA rotation)',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf();
      const old = await issue({ ca: true, name: 'example.org root', notBefore: ago(48 * HOUR), notAfter: ago(HOUR) });
      return out([c.leaf], [old, c.root]);
    },
  },
  {
    name: 'a same-named CA with another key sits before the real one',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf();
      const twin = await issue({ ca: true, name: 'example.org root' });
      return out([c.leaf], [twin, c.root]);
    },
  },
  {
    name: 'RSA chain',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf({ keyType: 'rsa-2048' }, { keyType: 'rsa-2048' });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'RSA-PSS signatures',
    goSpiffe: 'accepts',
    make: async () => {
      const rootKeys = (await webcrypto.subtle.generateKey({ name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair;
      const pss = { name: 'RSA-PSS', saltLength: 32 } as webcrypto.RsaPssParams;
      const root = await issue({ ca: true, name: 'pss root', keys: rootKeys, keyType: 'rsa-2048', signingAlgorithm: pss });
      const leaf = await issue({ uris: [CASE_ID], issuer: root, signingAlgorithm: pss });
      return out([leaf], [root]);
    },
  },
  {
    name: 'P-384 chain',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf({ keyType: 'ec-p384' }, { keyType: 'ec-p384' });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'Ed25519 chain',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf({ keyType: 'ed25519' }, { keyType: 'ed25519' });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'leaf notBefore 30 s ahead (within the clock-skew allowance)',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({ notBefore: ahead(30_000) });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'root pathLenConstraint 1 with one intermediate',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await withIntermediate({}, { pathLength: 1 });
      return out([c.leaf, c.inter], [c.root]);
    },
  },

  {
    name: 'root name constraints permit the trust domain',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf({}, { extraExtensions: [uriConstraints({ permitted: ['example.org'] })] });
      return out([c.leaf], [c.root]);
    },
  },

  // --- must be refused -----------------------------------------------------------------------
  {
    name: 'root name constraints permit another trust domain only',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({}, { extraExtensions: [uriConstraints({ permitted: ['other.org'] })] });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'intermediate name constraints exclude the trust domain',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await withIntermediate({ extraExtensions: [uriConstraints({ excluded: ['example.org'] })] });
      return out([c.leaf, c.inter], [c.root]);
    },
  },
  {
    name: 'a critical extension nobody understands on the leaf',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({ extraExtensions: [['1.3.6.1.4.1.99999.1', true, Buffer.from([0x05, 0x00])]] });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'leaf signed by a CA outside the bundle',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf();
      const other = await issue({ ca: true, name: 'other root' });
      return out([c.leaf], [other]);
    },
  },
  {
    name: 'leaf signed by an outside CA named like the bundle CA',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf();
      const twin = await issue({ ca: true, name: 'example.org root' });
      return out([c.leaf], [twin]);
    },
  },
  {
    name: 'self-signed leaf',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const leaf = await issue({ uris: [CASE_ID], name: 'workload' });
      const root = await issue({ ca: true, name: 'root' });
      return out([leaf], [root]);
    },
  },
  {
    name: 'leaf with a tampered signature',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf();
      return { chain: [tamper(c.leaf.der)], keyDer: c.leaf.keyDer, bundle: [c.root.der] };
    },
  },
  {
    name: 'intermediate with a tampered signature',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await withIntermediate();
      return { chain: [c.leaf.der, tamper(c.inter.der)], keyDer: c.leaf.keyDer, bundle: [c.root.der] };
    },
  },
  {
    name: 'the intermediate is missing',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await withIntermediate();
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'a same-named CA of another key type',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf();
      const rsa = await issue({ ca: true, name: 'example.org root', keyType: 'rsa-2048' });
      return out([c.leaf], [rsa]);
    },
  },
  {
    name: 'two intermediates that issue each other',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const [ka, kb] = [await generateKeys('ec-p256'), await generateKeys('ec-p256')];
      const a = await issue({ ca: true, name: 'A', keys: ka, issuerName: 'B', issuerKeys: kb });
      const b = await issue({ ca: true, name: 'B', keys: kb, issuerName: 'A', issuerKeys: ka });
      const leaf = await issue({ uris: [CASE_ID], issuer: a });
      return out([leaf, a, b], [await issue({ ca: true, name: 'root' })]);
    },
  },
  {
    name: 'not-yet-valid leaf',
    reason: 'not_yet_valid',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({ notBefore: ahead(HOUR), notAfter: ahead(2 * HOUR) });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'expired intermediate',
    reason: 'expired',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await withIntermediate({ notBefore: ago(2 * HOUR), notAfter: ago(HOUR) });
      return out([c.leaf, c.inter], [c.root]);
    },
  },
  {
    name: 'not-yet-valid intermediate',
    reason: 'not_yet_valid',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await withIntermediate({ notBefore: ahead(HOUR), notAfter: ahead(2 * HOUR) });
      return out([c.leaf, c.inter], [c.root]);
    },
  },
  {
    name: 'expired bundle CA',
    reason: 'expired',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({}, { notBefore: ago(2 * HOUR), notAfter: ago(HOUR) });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'root pathLenConstraint 0 with an intermediate below it',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await withIntermediate({}, { pathLength: 0 });
      return out([c.leaf, c.inter], [c.root]);
    },
  },
  {
    name: 'leaf signed with ECDSA-SHA1',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({ signingAlgorithm: { name: 'ECDSA', hash: 'SHA-1' } as webcrypto.EcdsaParams });
      return out([c.leaf], [c.root]);
    },
  },
  {
    name: 'a bundle holding a non-CA',
    reason: 'bundle_not_ca',
    goSpiffe: 'accepts',
    make: async () => {
      const c = await rootAndLeaf();
      const notCa = await issue({ uris: ['spiffe://example.org/other'], issuer: c.root });
      return out([c.leaf], [c.root, notCa]);
    },
  },
  {
    name: 'a bundle CA without keyCertSign',
    reason: 'bundle_not_ca',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({}, { keyUsage: KeyUsageFlags.cRLSign });
      return out([c.leaf], [c.root]);
    },
  },

  // --- second round (session 4): algorithms and keys Go's crypto/x509 accepts, and those it cannot use
  {
    name: 'openssl-made P-521 chain',
    goSpiffe: 'accepts',
    make: async () => osslPair({ key: 'P-521', digest: 'sha512' }, { key: 'P-521' }),
  },
  {
    name: 'an Ed25519 root signs a P-256 leaf',
    goSpiffe: 'accepts',
    make: async () => osslPair({ key: 'ed25519', digest: 'none' }),
  },
  {
    name: 'RSA 1024 root (the smallest key Go verifies with)',
    goSpiffe: 'accepts',
    make: async () => osslPair({ key: 'rsa:1024' }),
  },
  {
    name: 'a P-224 leaf key (Go accepts the curve)',
    goSpiffe: 'accepts',
    make: async () => osslPair({}, { key: 'P-224' }),
  },
  {
    name: 'RSA-PSS signature, SHA-256 with a 32-byte salt (openssl)',
    goSpiffe: 'accepts',
    make: async () => osslPair({ key: 'rsa:2048' }, { sigopt: ['rsa_padding_mode:pss', 'rsa_pss_saltlen:32'] }),
  },
  {
    name: 'a v1 root (no extensions) in the bundle',
    goSpiffe: 'accepts',
    make: async () => osslPair({ ext: undefined }),
  },
  {
    name: "the leaf's authority key ID does not match the root's subject key ID",
    goSpiffe: 'accepts',
    make: async () => osslPair({ ext: [...CA_EXT, 'subjectKeyIdentifier=hash'] }, { ext: [...leafExt(`URI:${CASE_ID}`), '2.5.29.35=DER:3016801400112233445566778899aabbccddeeff00112233'] }),
  },
  {
    name: "root name constraints permit the leaf's mailbox domain",
    goSpiffe: 'accepts',
    make: async () => osslPair({ ext: [...CA_EXT, 'nameConstraints=critical,permitted;email:example.org,permitted;URI:example.org'] }, { ext: leafExt(`URI:${CASE_ID},email:ops@example.org`) }),
  },
  {
    name: 'critical policy extensions on the root and the intermediate (Go handles them)',
    goSpiffe: 'accepts',
    make: async () => {
      // No explicit policy required: Go evaluates policies, and a path that needs none passes it.
      const policies = ['certificatePolicies=critical,2.5.29.32.0', 'policyConstraints=critical,inhibitPolicyMapping:0', 'inhibitAnyPolicy=critical,1'];
      const root = osslCert({ name: 'example.org root', ext: [...CA_EXT, ...policies] });
      const inter = osslCert({ name: 'example.org intermediate', issuer: root, ext: [...CA_EXT, ...policies, 'crlDistributionPoints=critical,URI:http://crl.example.org/ca.crl'] });
      const leaf = osslCert({ name: 'workload', issuer: inter, ext: leafExt(`URI:${CASE_ID}`) });
      return { chain: [leaf.der, inter.der], keyDer: leaf.keyDer, bundle: [root.der] };
    },
  },
  {
    name: 'RSA-PSS signature, SHA-256 with a 20-byte salt',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => osslPair({ key: 'rsa:2048' }, { sigopt: ['rsa_padding_mode:pss', 'rsa_pss_saltlen:20'] }),
  },
  {
    name: 'a bundle CA with a 512-bit RSA key',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => osslPair({ key: 'rsa:512' }),
  },
  {
    name: 'a bundle CA on secp256k1',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => osslPair({ key: 'secp256k1' }),
  },
  {
    name: 'a bundle CA on brainpoolP256r1',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => osslPair({ key: 'brainpoolP256r1' }),
  },
  {
    name: 'a bundle CA whose EC public point is compressed',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => osslPair({ key: 'P-256:compressed' }),
  },
  {
    name: 'a bundle CA whose key is an RSASSA-PSS key',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => osslPair({ key: 'rsa-pss', digest: 'sha256' }),
  },
  {
    name: 'an intermediate with a 512-bit RSA key',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => {
      const root = osslCert({ name: 'example.org root', ext: CA_EXT });
      const inter = osslCert({ name: 'weak intermediate', key: 'rsa:512', issuer: root, ext: CA_EXT });
      const leaf = osslCert({ name: 'workload', issuer: inter, ext: leafExt(`URI:${CASE_ID}`) });
      return { chain: [leaf.der, inter.der], keyDer: leaf.keyDer, bundle: [root.der] };
    },
  },
  {
    name: 'the bundle CA has a critical extension nobody understands',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => osslPair({ ext: [...CA_EXT, '1.3.6.1.4.1.99999.7=critical,DER:0500'] }),
  },
  {
    name: 'critical root name constraints of a type nobody here evaluates (directoryName)',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => osslPair({ ext: [...CA_EXT, 'nameConstraints=critical,permitted;dirName:constrained', '[constrained]', 'CN=other'] }),
  },
  {
    name: "root name constraints exclude the leaf's IP address",
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => osslPair({ ext: [...CA_EXT, 'nameConstraints=critical,excluded;IP:10.0.0.0/255.0.0.0'] }, { ext: leafExt(`URI:${CASE_ID},IP:10.1.2.3`) }),
  },
  {
    name: "root name constraints permit other mailboxes than the leaf's",
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => osslPair({ ext: [...CA_EXT, 'nameConstraints=critical,permitted;email:other.org'] }, { ext: leafExt(`URI:${CASE_ID},email:ops@example.org`) }),
  },
  {
    name: 'a DNS constraint ".example.org" (below it only) and a leaf named example.org',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => osslPair({ ext: [...CA_EXT, 'nameConstraints=critical,permitted;DNS:.example.org'] }, { ext: leafExt(`URI:${CASE_ID},DNS:example.org`) }),
  },
  {
    name: 'a leaf serial number with a non-minimal DER length',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf();
      const leaf = reissue(c.leaf, c.root, ([version, serial, ...rest]) => [version!, Buffer.concat([Buffer.from([0x02, 0x81]), serial!.subarray(1)]), ...rest]);
      return { chain: [leaf], keyDer: c.leaf.keyDer, bundle: [c.root.der] };
    },
  },
  {
    name: 'a leaf whose critical flag is a BER TRUE (0x01), not DER (0xff)',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => leafWithExtensionBytes([0x01, 0x01, 0xff], [0x01, 0x01, 0x01]),
  },
  {
    name: 'a leaf keyUsage BIT STRING with a padding bit set',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    // digitalSignature alone is BIT STRING 03 02 07 80 (seven unused bits): the lowest of them set.
    make: () => leafWithExtensionBytes([0x03, 0x02, 0x07, 0x80], [0x03, 0x02, 0x07, 0x81]),
  },
  {
    name: "an RSA key whose private exponent is another key's",
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: async () => {
      const c = await rootAndLeaf({ keyType: 'rsa-2048' });
      const jwk = createPrivateKey({ key: c.leaf.keyDer, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
      const { d } = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
      const keyDer = createPrivateKey({ key: { ...jwk, d } as JsonWebKey, format: 'jwk' }).export({ format: 'der', type: 'pkcs8' });
      return { chain: [c.leaf.der], keyDer, bundle: [c.root.der] };
    },
  },
];
