import { timingSafeEqual, X509Certificate } from 'node:crypto';
import { children, decodeOid, readTlv, type Tlv } from '../spiffe/der.js';
import { OID } from './oids.js';
import { content, decrypt, DIGEST_BY_OID, expect, pkcs12Mac, readIterations } from './pbe.js';

/**
 * Reads a PKCS#12 file for `inspect`: its key entries (alias, chain, whether a key is there)
 * and its trusted certificates, with the MAC verified. Without the password only the
 * unencrypted parts can be listed, and `unchecked` says what could not be.
 */

export interface KeyEntry {
  alias?: string;
  /** The decrypted PKCS#8 DER: only with the password. */
  keyDer?: Buffer;
  /** Leaf first, following issuers among the file's certificates; empty without the password when they are encrypted. */
  chain: X509Certificate[];
}

export interface TrustedEntry {
  alias?: string;
  cert: X509Certificate;
}

export interface Pkcs12Contents {
  /** The MAC, when the file has one: its digest, iterations and whether it was verified. */
  mac?: { digest: string; iterations: number; verified: boolean };
  keys: KeyEntry[];
  trusted: TrustedEntry[];
  /** Certificates in no key's chain and not marked trusted. */
  otherCertificates: X509Certificate[];
  /** What could not be checked or listed (without the password). */
  unchecked: string[];
}

interface Bag {
  type: string;
  alias?: string;
  localKeyId?: string;
  trusted: boolean;
  /** certBag: the certificate DER; pkcs8ShroudedKeyBag/keyBag: the (decrypted) PKCS#8 DER. */
  value?: Buffer;
}

export function readPkcs12(file: Buffer, password?: string): Pkcs12Contents {
  const pfx = readTlv(file, 0);
  if (pfx.tag !== 0x30 || pfx.next !== file.length) throw new Error('not a PKCS#12 file: not a single DER SEQUENCE');
  const [version, authSafe, macData] = children(file, pfx);
  if (content(file, expect(file, version, 0x02, 'PFX version'))[0] !== 3) throw new Error('PKCS#12: version must be 3');
  const authBytes = dataOf(file, expect(file, authSafe, 0x30, 'PFX authSafe'), 'authSafe');
  const unchecked: string[] = [];
  const result: Pkcs12Contents = { keys: [], trusted: [], otherCertificates: [], unchecked };

  if (macData) {
    const [mac, salt, iter] = children(file, expect(file, macData, 0x30, 'MacData'));
    const [algId, digestValue] = children(file, expect(file, mac, 0x30, 'MAC DigestInfo'));
    const digestOid = decodeOid(content(file, expect(file, children(file, expect(file, algId, 0x30, 'MAC algorithm'))[0], 0x06, 'MAC digest')));
    const digest = DIGEST_BY_OID[digestOid];
    if (!digest) throw new Error(`PKCS#12: unsupported MAC digest ${digestOid}`);
    // RFC 7292: iterations defaults to 1 when absent.
    const iterations = iter ? readIterations(file, iter) : 1;
    result.mac = { digest, iterations, verified: false };
    if (password !== undefined) {
      const expected = content(file, expect(file, digestValue, 0x04, 'MAC value'));
      const actual = pkcs12Mac(digest, password, content(file, expect(file, salt, 0x04, 'MAC salt')), iterations, authBytes);
      if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
        throw new Error('PKCS#12: MAC verification failed (wrong password or altered file)');
      }
      result.mac.verified = true;
    } else {
      unchecked.push('the MAC (integrity): needs the password');
    }
  } else {
    unchecked.push('integrity: the file has no MAC');
  }

  const bags: Bag[] = [];
  const safe = readTlv(authBytes, 0);
  if (safe.tag !== 0x30 || safe.next !== authBytes.length) throw new Error('PKCS#12: AuthenticatedSafe is not a SEQUENCE');
  let hidden = 0;
  for (const info of children(authBytes, safe)) {
    const [typeT, body] = children(authBytes, expect(authBytes, info, 0x30, 'ContentInfo'));
    const type = decodeOid(content(authBytes, expect(authBytes, typeT, 0x06, 'ContentInfo type')));
    if (type === OID.data) {
      bags.push(...readSafeContents(dataOf(authBytes, info, 'SafeContents'), password));
    } else if (type === OID.encryptedData) {
      if (password === undefined) {
        hidden++;
        continue;
      }
      const encrypted = children(authBytes, expect(authBytes, body, 0xa0, 'EncryptedData'))[0];
      const [, eci] = children(authBytes, expect(authBytes, encrypted, 0x30, 'EncryptedData'));
      const [, alg, ciphertext] = children(authBytes, expect(authBytes, eci, 0x30, 'EncryptedContentInfo'));
      const plain = decrypt(authBytes, alg!, password, content(authBytes, expect(authBytes, ciphertext, 0x80, 'encrypted content')));
      bags.push(...readSafeContents(plain, password));
    } else {
      throw new Error(`PKCS#12: unsupported ContentInfo type ${type} (public-key privacy mode)`);
    }
  }
  if (hidden) unchecked.push(`${hidden} encrypted part(s) (certificates, usually): need the password`);
  if (password === undefined && bags.some((b) => b.type === OID.pkcs8ShroudedKeyBag)) unchecked.push('the private keys: need the password');
  assemble(bags, result);
  return result;
}

function readSafeContents(der: Buffer, password: string | undefined): Bag[] {
  const top = readTlv(der, 0);
  if (top.tag !== 0x30 || top.next !== der.length) throw new Error('PKCS#12: SafeContents is not a SEQUENCE');
  return children(der, top).map((bagT) => {
    const [idT, valueT, attrsT] = children(der, expect(der, bagT, 0x30, 'SafeBag'));
    const type = decodeOid(content(der, expect(der, idT, 0x06, 'SafeBag type')));
    const bag: Bag = { type, trusted: false, ...(attrsT ? readAttributes(der, expect(der, attrsT, 0x31, 'bag attributes')) : {}) };
    const inner = children(der, expect(der, valueT, 0xa0, 'SafeBag value'))[0];
    if (type === OID.certBag) {
      const [certType, certValue] = children(der, expect(der, inner, 0x30, 'CertBag'));
      if (decodeOid(content(der, expect(der, certType, 0x06, 'CertBag type'))) === OID.x509Certificate) {
        bag.value = Buffer.from(content(der, expect(der, children(der, expect(der, certValue, 0xa0, 'CertBag value'))[0], 0x04, 'certificate')));
      }
    } else if (type === OID.keyBag) {
      // The PKCS#8 SEQUENCE itself, header included: it is the first thing inside the [0] wrapper.
      bag.value = Buffer.from(der.subarray(valueT!.start, expect(der, inner, 0x30, 'KeyBag').next));
    } else if (type === OID.pkcs8ShroudedKeyBag && password !== undefined) {
      const [alg, data] = children(der, expect(der, inner, 0x30, 'EncryptedPrivateKeyInfo'));
      bag.value = decrypt(der, alg!, password, content(der, expect(der, data, 0x04, 'encrypted key')));
    }
    return bag;
  });
}

function readAttributes(der: Buffer, set: Tlv): Pick<Bag, 'alias' | 'localKeyId' | 'trusted'> {
  const out: Pick<Bag, 'alias' | 'localKeyId' | 'trusted'> = { trusted: false };
  for (const attr of children(der, set)) {
    const [typeT, valuesT] = children(der, expect(der, attr, 0x30, 'attribute'));
    const type = decodeOid(content(der, expect(der, typeT, 0x06, 'attribute type')));
    const first = children(der, expect(der, valuesT, 0x31, 'attribute values'))[0];
    if (type === OID.friendlyName)
      out.alias = Buffer.from(content(der, expect(der, first, 0x1e, 'friendlyName')))
        .swap16()
        .toString('utf16le');
    else if (type === OID.localKeyId) out.localKeyId = content(der, expect(der, first, 0x04, 'localKeyId')).toString('hex');
    else if (type === OID.oracleTrustedKeyUsage) out.trusted = true;
  }
  return out;
}

/** Ties each key to its leaf by localKeyId, then follows issuers, as Java's PKCS12KeyStore does. */
function assemble(bags: Bag[], result: Pkcs12Contents): void {
  const certs = bags.filter((b) => b.type === OID.certBag && b.value).map((b) => ({ bag: b, cert: new X509Certificate(b.value!) }));
  const used = new Set<X509Certificate>();
  for (const key of bags.filter((b) => b.type === OID.pkcs8ShroudedKeyBag || b.type === OID.keyBag)) {
    const chain: X509Certificate[] = [];
    let next = certs.find((c) => key.localKeyId !== undefined && c.bag.localKeyId === key.localKeyId)?.cert;
    while (next && !chain.includes(next)) {
      chain.push(next);
      used.add(next);
      const current = next;
      next = current.issuer === current.subject ? undefined : certs.find((c) => c.cert !== current && current.checkIssued(c.cert))?.cert;
    }
    result.keys.push({ ...(key.alias !== undefined ? { alias: key.alias } : {}), ...(key.value ? { keyDer: key.value } : {}), chain });
  }
  for (const { bag, cert } of certs) {
    if (bag.trusted) result.trusted.push({ ...(bag.alias !== undefined ? { alias: bag.alias } : {}), cert });
    else if (!used.has(cert)) result.otherCertificates.push(cert);
  }
}

/** The content of `[0] EXPLICIT OCTET STRING` in a `data` ContentInfo. */
function dataOf(der: Buffer, info: Tlv, what: string): Buffer {
  const [typeT, body] = children(der, info);
  if (decodeOid(content(der, expect(der, typeT, 0x06, `${what} type`))) !== OID.data) throw new Error(`PKCS#12: ${what} is not of type data`);
  const octets = children(der, expect(der, body, 0xa0, what))[0];
  return Buffer.from(content(der, expect(der, octets, 0x04, what)));
}
