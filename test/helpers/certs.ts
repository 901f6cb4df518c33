/**
 * Certificate fixtures for validation tests: a builder flexible enough to make every
 * malformed SVID a real agent cannot produce (CA leaves, two URI SANs, wrong key usage...).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

/** Re-exported so tests need not import @peculiar/x509 before the reflect polyfill above. */
export const KeyUsageFlags = x509.KeyUsageFlags;

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'ed25519';

const algs: Record<KeyType, { gen: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams | webcrypto.Algorithm; sign: webcrypto.Algorithm | webcrypto.EcdsaParams }> = {
  'ec-p256': { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams },
  'ec-p384': { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams },
  'rsa-2048': {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
  ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export interface Issued {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  keyType: KeyType;
  der: Buffer;
  keyDer: Buffer;
}

export async function generateKeys(keyType: KeyType): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algs[keyType].gen as webcrypto.EcKeyGenParams, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

export interface CertOptions {
  keyType?: KeyType;
  /** Issuer; self-signed when absent. */
  issuer?: Issued;
  uris?: string[];
  dnsNames?: string[];
  ca?: boolean;
  /** Omit basicConstraints altogether. */
  noBasicConstraints?: boolean;
  keyUsage?: number | null;
  notBefore?: Date;
  notAfter?: Date;
  /** Use these keys instead of fresh ones. */
  keys?: webcrypto.CryptoKeyPair;
  name?: string;
  /** Hex; a counter when absent. */
  serialNumber?: string;
  /** Instead of the issuer key type's usual algorithm (e.g. SHA-1, RSA-PSS). */
  signingAlgorithm?: webcrypto.Algorithm | webcrypto.EcdsaParams | webcrypto.RsaPssParams;
  /** basicConstraints pathLenConstraint (CAs only). */
  pathLength?: number;
  /** The issuer's name and key, when there is no Issued for it yet (certificates that issue each other). */
  issuerName?: string;
  issuerKeys?: webcrypto.CryptoKeyPair;
  /** More extensions, DER-encoded values: `[oid, critical, value]`. */
  extraExtensions?: [string, boolean, Uint8Array][];
}

let serial = 1;

export async function issue(o: CertOptions = {}): Promise<Issued> {
  const keyType = o.keyType ?? 'ec-p256';
  const keys = o.keys ?? (await generateKeys(keyType));
  const ca = o.ca ?? false;
  const extensions: x509.Extension[] = [];
  if (!o.noBasicConstraints) extensions.push(new x509.BasicConstraintsExtension(ca, o.pathLength, true));
  const defaultUsage = ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature | (keyType === 'rsa-2048' ? x509.KeyUsageFlags.keyEncipherment : 0);
  const usage = o.keyUsage === undefined ? defaultUsage : o.keyUsage;
  if (usage !== null) extensions.push(new x509.KeyUsagesExtension(usage, true));
  const names = [...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })), ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value }))];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  for (const [oid, critical, value] of o.extraExtensions ?? []) extensions.push(new x509.Extension(oid, critical, value));
  const issuerType = o.issuer?.keyType ?? keyType;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: o.serialNumber ?? (serial++).toString(16).padStart(2, '0'),
    subject: `CN=${o.name ?? (ca ? 'Test CA' : 'workload')}`,
    issuer: o.issuer ? o.issuer.cert.subject : o.issuerName ? `CN=${o.issuerName}` : `CN=${o.name ?? (ca ? 'Test CA' : 'workload')}`,
    notBefore: o.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: o.notAfter ?? new Date(Date.now() + 3_600_000),
    publicKey: keys.publicKey,
    signingKey: o.issuer ? o.issuer.keys.privateKey : (o.issuerKeys ?? keys).privateKey,
    signingAlgorithm: o.signingAlgorithm ?? algs[issuerType].sign,
    extensions,
  });
  const keyDer = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { cert, keys, keyType, der: Buffer.from(cert.rawData), keyDer };
}

/** A root CA, an optional intermediate, and a leaf for `spiffeId`. */
export async function svidChain(spiffeId: string, o: { keyType?: KeyType; intermediate?: boolean; leaf?: CertOptions; td?: string } = {}) {
  const td = o.td ?? new URL(spiffeId.replace('spiffe://', 'http://')).host;
  const root = await issue({ ca: true, keyType: o.keyType, uris: [`spiffe://${td}`], name: `${td} root` });
  const inter = o.intermediate ? await issue({ ca: true, issuer: root, keyType: o.keyType, name: `${td} intermediate` }) : undefined;
  const leaf = await issue({ uris: [spiffeId], keyType: o.keyType, issuer: inter ?? root, ...o.leaf });
  return { root, inter, leaf, chainDer: Buffer.concat([leaf.der, ...(inter ? [inter.der] : [])]), bundleDer: root.der };
}
