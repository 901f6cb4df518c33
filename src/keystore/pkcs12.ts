import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { readTlv } from '../spiffe/der.js';
import { bmpString, explicit, int, nul, octets, oid, seq, setOf, tlv } from './der-write.js';
import { OID } from './oids.js';
import { encryptLegacy3des, encryptPbes2, MAX_ITERATIONS, pkcs12Mac, type Encrypted } from './pbe.js';

/**
 * PKCS#12 (RFC 7292) writer for JVM servers: a keystore (one private key with its chain) and a
 * truststore (CA certificates marked trusted the way Java's PKCS12KeyStore recognises them).
 * Pure: bytes in, bytes out. Loaded only when a keystore is configured.
 *
 * Salts and IVs are derived, not random, so that the same inputs give the same bytes and the
 * rotation path can keep comparing rendered files (docs/keystores.md argues why this is safe):
 *   seed  = PBKDF2-HMAC-SHA256(password, SHA-256(format ‖ every input), iterations)
 *   value = HMAC-SHA256(seed, label)   for each salt and IV
 * Any change of key, certificate, alias, password, format or iteration count changes the seed
 * and therefore every salt and IV; recovering the seed costs as much as one guess at the MAC.
 */

export type Pkcs12Format =
  /** PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for keys and certificates, HMAC-SHA-256 MAC: Java 12+, 11.0.12+, 8u301+, OpenSSL 3. */
  | 'aes256-sha256'
  /** pbeWithSHAAnd3-KeyTripleDES-CBC for keys and certificates, HMAC-SHA-1 MAC: every JVM and OpenSSL 1.x. */
  | 'legacy-3des-sha1';

export interface Pkcs12Options {
  password: string;
  format?: Pkcs12Format;
  /** PBKDF2 / PKCS#12 KDF and MAC iteration count. */
  iterations?: number;
}

/** Java's defaults since JDK-8153005 (10000); 2048 for legacy, as OpenSSL's, its SHA-1 KDF runs in JS. */
export const DEFAULT_ITERATIONS: Record<Pkcs12Format, number> = { 'aes256-sha256': 10_000, 'legacy-3des-sha1': 2048 };

export interface KeystoreEntry {
  alias: string;
  /** Unencrypted PKCS#8 DER. */
  keyDer: Buffer;
  /** Leaf first, then intermediates, DER each. */
  chainDer: Buffer[];
}

export interface TrustedCertificate {
  alias: string;
  certDer: Buffer;
}

/** `entry` is a validated X509-SVID's (key matches leaf, chain verified): only the DER shape is checked here. */
export function encodeKeystore(entry: KeystoreEntry, options: Pkcs12Options): Buffer {
  checkAlias(entry.alias);
  if (entry.chainDer.length === 0) throw new Error('keystore: the certificate chain is empty');
  entry.chainDer.forEach((c, i) => checkSequence(c, `keystore: certificate ${i}`));
  checkSequence(entry.keyDer, 'keystore: private key');
  // The SHA-1 of the leaf, as OpenSSL sets it: ties the key bag to its certificate bag.
  const localKeyId = createHash('sha1').update(entry.chainDer[0]!).digest();
  const identity = [attribute(OID.friendlyName, bmpString(entry.alias)), attribute(OID.localKeyId, octets(localKeyId))];
  const certBags = entry.chainDer.map((c, i) => certBag(c, i === 0 ? identity : []));
  return encodePfx('keystore', certBags, { plaintext: entry.keyDer, attributes: identity }, options);
}

export function encodeTruststore(certs: TrustedCertificate[], options: Pkcs12Options): Buffer {
  if (certs.length === 0) throw new Error('truststore: no certificates');
  const seen = new Set<string>();
  const bags = certs.map((c) => {
    checkAlias(c.alias);
    // Java keys entries by lower-cased alias: two that differ only in case would shadow each other.
    const key = c.alias.toLowerCase();
    if (seen.has(key)) throw new Error(`truststore: alias ${JSON.stringify(c.alias)} appears twice`);
    seen.add(key);
    checkSequence(c.certDer, `truststore: certificate ${JSON.stringify(c.alias)}`);
    return certBag(c.certDer, [attribute(OID.friendlyName, bmpString(c.alias)), attribute(OID.oracleTrustedKeyUsage, oid(OID.anyExtendedKeyUsage))]);
  });
  return encodePfx('truststore', bags, undefined, options);
}

/** Aliases a person can read: `<trust domain>-1`, `<trust domain>-2`, ... in bundle order. */
export function trustDomainCertificates(trustDomain: string, certsDer: Buffer[]): TrustedCertificate[] {
  return certsDer.map((certDer, i) => ({ alias: `${trustDomain}-${i + 1}`, certDer }));
}

function encodePfx(kind: string, certBags: Buffer[], key: { plaintext: Buffer; attributes: Buffer[] } | undefined, options: Pkcs12Options): Buffer {
  const format = options.format ?? 'aes256-sha256';
  const iterations = options.iterations ?? DEFAULT_ITERATIONS[format];
  if (!options.password) throw new Error(`${kind}: the password is empty`);
  // Java 17 cannot open a store whose password has other characters, in either format (its PBE
  // keys take printable ASCII only; Java 25 still refuses them in the legacy format), though
  // OpenSSL can: measured with keytool 17.0.15 and 25.0.3.
  if (!/^[\x20-\x7e]+$/.test(options.password)) throw new Error(`${kind}: the password must be printable ASCII, which every JVM accepts`);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new Error(`${kind}: iterations must be 1..${MAX_ITERATIONS}`);
  }
  const certSafe = seq(...certBags);
  const derive = seedDerivation(options.password, [kind, format, String(iterations)], [certSafe, ...(key ? [key.plaintext, ...key.attributes] : [])], iterations);
  const encrypt = (label: string, plaintext: Buffer): Encrypted =>
    format === 'aes256-sha256'
      ? encryptPbes2(options.password, plaintext, derive(`${label} salt`, 16), derive(`${label} iv`, 16), iterations)
      : encryptLegacy3des(options.password, plaintext, derive(`${label} salt`, 8), iterations);

  const certs = encrypt('certificates', certSafe);
  const contents = [seq(oid(OID.encryptedData), explicit(0, seq(int(0), seq(oid(OID.data), certs.algorithm, tlv(0x80, certs.ciphertext)))))];
  if (key) {
    const shrouded = encrypt('key', key.plaintext);
    const bag = seq(oid(OID.pkcs8ShroudedKeyBag), explicit(0, seq(shrouded.algorithm, octets(shrouded.ciphertext))), setOf(...key.attributes));
    contents.push(dataContent(seq(bag)));
  }
  const authSafe = seq(...contents);
  const digest = format === 'aes256-sha256' ? 'sha256' : 'sha1';
  const macSalt = derive('mac salt', 16);
  const mac = pkcs12Mac(digest, options.password, macSalt, iterations, authSafe);
  const macData = seq(seq(seq(oid(digest === 'sha256' ? OID.sha256 : OID.sha1), nul()), octets(mac)), octets(macSalt), int(iterations));
  return seq(int(3), dataContent(authSafe), macData);
}

/** Every salt and IV as a function of the password and everything the store will contain. */
function seedDerivation(password: string, params: string[], parts: Buffer[], iterations: number) {
  const h = createHash('sha256').update('spiffe-helper pkcs12 v1');
  const length = Buffer.alloc(4);
  for (const part of [...params.map((p) => Buffer.from(p)), ...parts]) {
    length.writeUInt32BE(part.length);
    h.update(length).update(part);
  }
  const seed = pbkdf2Sync(Buffer.from(password, 'utf8'), h.digest(), iterations, 32, 'sha256');
  return (label: string, size: number): Buffer => createHmac('sha256', seed).update(label).digest().subarray(0, size);
}

const dataContent = (der: Buffer): Buffer => seq(oid(OID.data), explicit(0, octets(der)));
const attribute = (type: string, value: Buffer): Buffer => seq(oid(type), setOf(value));

function certBag(certDer: Buffer, attributes: Buffer[]): Buffer {
  const value = explicit(0, seq(oid(OID.x509Certificate), explicit(0, octets(certDer))));
  return seq(oid(OID.certBag), value, ...(attributes.length ? [setOf(...attributes)] : []));
}

function checkAlias(alias: string): void {
  if (alias.length === 0) throw new Error('alias is empty');
}

function checkSequence(der: Buffer, what: string): void {
  const t = readTlv(der, 0);
  if (t.tag !== 0x30 || t.next !== der.length) throw new Error(`${what} is not a single DER SEQUENCE`);
}
