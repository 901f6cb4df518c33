// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
// installed before the library loads (ESM evaluates imports in order).
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { HelperError } from '../errors.js';
import type { SpiffeId, TrustDomain } from '../spiffe/id.js';
import { JwtIssuer, type Jwk, type JwtAlg } from './jwt-issuer.js';

/**
 * The development agent's certificate authority for one trust domain: a self-signed root,
 * optionally an intermediate, issuing X.509-SVIDs as SPIRE shapes them, plus a JWT authority.
 * Keys live only in memory; a restarted dev agent is a new trust domain instance.
 */

// Outside a browser @peculiar/x509 has no WebCrypto of its own.
x509.cryptoProvider.set(webcrypto);

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'ed25519';
export const keyTypes: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'];

interface KeyAlgorithm {
  generate: webcrypto.Algorithm | webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;
  /** How certificates are signed with a key of this type. */
  signing: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

const keyAlgorithms: Record<KeyType, KeyAlgorithm> = {
  'ec-p256': { generate: { name: 'ECDSA', namedCurve: 'P-256' }, signing: { name: 'ECDSA', hash: 'SHA-256' } },
  'ec-p384': { generate: { name: 'ECDSA', namedCurve: 'P-384' }, signing: { name: 'ECDSA', hash: 'SHA-384' } },
  'rsa-2048': {
    generate: {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    signing: { name: 'RSASSA-PKCS1-v1_5' },
  },
  ed25519: { generate: { name: 'Ed25519' }, signing: { name: 'Ed25519' } },
};

const CA_LIFETIME_MS = 365 * 24 * 3600 * 1000;
/** Back-dating notBefore tolerates clocks a little behind ours, as SPIRE does. */
const BACKDATE_MS = 10_000;

export interface DevCaOptions {
  trustDomain: TrustDomain;
  keyType?: KeyType;
  intermediate?: boolean;
  jwtAlg?: JwtAlg;
}

export interface IssuedX509Svid {
  /** Leaf, then the intermediate if any: concatenated DER. */
  chainDer: Buffer;
  /** Unencrypted PKCS#8 DER. */
  keyDer: Buffer;
  /** The trust domain's root certificate(s): concatenated DER. */
  bundleDer: Buffer;
  notAfter: Date;
  /** Upper-case hex, as node:crypto's X509Certificate.serialNumber prints it. */
  serial: string;
}

interface Authority {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  keyType: KeyType;
}

export class DevCa {
  private constructor(
    readonly trustDomain: TrustDomain,
    private readonly root: Authority,
    /** Signs the SVIDs: the intermediate when there is one, else the root. */
    private readonly issuer: Authority,
    private readonly jwt: JwtIssuer,
  ) {}

  static async create(options: DevCaOptions): Promise<DevCa> {
    const { trustDomain } = options;
    const keyType = options.keyType ?? 'ec-p256';
    if (!keyTypes.includes(keyType)) {
      throw new HelperError('usage', `key type ${JSON.stringify(keyType)} is not one of ${keyTypes.join(', ')}`);
    }
    const now = Date.now();
    const validity = { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + CA_LIFETIME_MS) };
    const rootKeys = await generateKeys(keyType, false);
    const rootName = `O=spiffe-helper dev agent, CN=${trustDomain.name} root CA`;
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      ...validity,
      serialNumber: randomSerial(),
      name: rootName,
      keys: rootKeys,
      signingAlgorithm: keyAlgorithms[keyType].signing,
      extensions: await caExtensions(trustDomain, rootKeys.publicKey),
    });
    const root: Authority = { cert: rootCert, keys: rootKeys, keyType };
    const issuer = options.intermediate ? await createIntermediate(root, trustDomain, validity) : root;
    return new DevCa(trustDomain, root, issuer, await JwtIssuer.create(trustDomain, options.jwtAlg));
  }

  /** The trust domain's X.509 bundle: what peers need to verify its SVIDs. */
  get bundleDer(): Buffer {
    return Buffer.from(this.root.cert.rawData);
  }

  get jwtIssuer(): JwtIssuer {
    return this.jwt;
  }

  async issueX509Svid(request: { spiffeId: SpiffeId; ttlSeconds: number; keyType?: KeyType }): Promise<IssuedX509Svid> {
    const { spiffeId, ttlSeconds } = request;
    if (spiffeId.trustDomain.name !== this.trustDomain.name) {
      throw new HelperError('spiffe-id', `${spiffeId} is not in trust domain "${this.trustDomain.name}", which this CA signs for`);
    }
    if (!spiffeId.hasPath) throw new HelperError('spiffe-id', `${spiffeId} has no path: an X.509-SVID needs a workload ID`);
    const keyType = request.keyType ?? this.root.keyType;
    const keys = await generateKeys(keyType, true);
    const now = Date.now();
    // An SVID must not outlive the certificate that signs it.
    const notAfter = new Date(Math.min(now + ttlSeconds * 1000, this.issuer.cert.notAfter.getTime()));
    const serialNumber = randomSerial();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: 'O=spiffe-helper dev agent',
      issuer: this.issuer.cert.subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.issuer.keys.privateKey,
      signingAlgorithm: keyAlgorithms[this.issuer.keyType].signing,
      extensions: await leafExtensions(spiffeId, keyType, keys.publicKey, this.issuer),
    });
    const chain = this.issuer === this.root ? [leaf] : [leaf, this.issuer.cert];
    return {
      chainDer: Buffer.concat(chain.map((c) => Buffer.from(c.rawData))),
      keyDer: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
      bundleDer: this.bundleDer,
      notAfter: leaf.notAfter,
      serial: serialNumber.toUpperCase(),
    };
  }

  async signJwtSvid(request: { spiffeId: SpiffeId; audience: string[]; ttlSeconds: number }): Promise<string> {
    return this.jwt.sign(request.spiffeId, request.audience, request.ttlSeconds);
  }

  /** The trust domain's JWT bundle, as FetchJWTBundles serves it. */
  jwks(): { keys: Jwk[] } {
    return { keys: [this.jwt.jwk()] };
  }
}

async function createIntermediate(root: Authority, trustDomain: TrustDomain, validity: { notBefore: Date; notAfter: Date }): Promise<Authority> {
  const keys = await generateKeys(root.keyType, false);
  const cert = await x509.X509CertificateGenerator.create({
    ...validity,
    serialNumber: randomSerial(),
    subject: `O=spiffe-helper dev agent, CN=${trustDomain.name} intermediate CA`,
    issuer: root.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: root.keys.privateKey,
    signingAlgorithm: keyAlgorithms[root.keyType].signing,
    extensions: [...(await caExtensions(trustDomain, keys.publicKey)), await x509.AuthorityKeyIdentifierExtension.create(root.keys.publicKey)],
  });
  return { cert, keys, keyType: root.keyType };
}

async function caExtensions(trustDomain: TrustDomain, publicKey: webcrypto.CryptoKey): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: trustDomain.id }]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
}

async function leafExtensions(spiffeId: SpiffeId, keyType: KeyType, publicKey: webcrypto.CryptoKey, issuer: Authority): Promise<x509.Extension[]> {
  // RSA keys can also carry TLS key exchange; EC and Ed25519 keys only sign.
  const usage = keyType === 'rsa-2048' ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId.toString() }]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
  ];
}

async function generateKeys(keyType: KeyType, extractable: boolean): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithms[keyType].generate, extractable, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** 16 random bytes, first byte 0x40-0x7f: positive, no leading zero, same hex in every tool. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | (bytes[0]! & 0x3f);
  return bytes.toString('hex');
}
