/**
 * Named chains for path validation: every way a chain can fail to verify, and the shapes that
 * must verify. Shared by the unit tests (test/spiffe/chain.test.ts), the refusal of agent
 * updates (test/workload/x509context.test.ts) and the go-spiffe cross-check (test/interop).
 */
import { webcrypto } from 'node:crypto';
import { generateKeys, issue, KeyUsageFlags, type Issued } from './certs.js';

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
      ])) as CryptoKeyPair;
      const pss = { name: 'RSA-PSS', saltLength: 32 } as RsaPssParams;
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
      const c = await rootAndLeaf({ signingAlgorithm: { name: 'ECDSA', hash: 'SHA-1' } as EcdsaParams });
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
];
