import { createCipheriv, createDecipheriv, createHash, createHmac, hash, pbkdf2Sync } from 'node:crypto';
import { children, decodeOid, type Tlv } from '../spiffe/der.js';
import { int, nul, octets, oid, seq, utf16be } from './der-write.js';
import { OID } from './oids.js';

/**
 * Password-based encryption and the integrity MAC of PKCS#12: PBES2 (RFC 8018, PBKDF2 +
 * AES-CBC), and the legacy pbeWithSHAAnd3-KeyTripleDES-CBC whose key, IV and MAC key come
 * from the PKCS#12 key derivation function (RFC 7292 appendix B).
 */

export type DigestName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Block sizes (v) of the PKCS#12 KDF's hashes, in bytes. */
const BLOCK: Record<DigestName, number> = { sha1: 64, sha256: 64, sha384: 128, sha512: 128 };

/** Java refuses more (PKCS12KeyStore's MAX_ITERATION_COUNT); a hostile store cannot make inspect spin. */
export const MAX_ITERATIONS = 5_000_000;

const enum KdfPurpose {
  Key = 1,
  Iv = 2,
  Mac = 3,
}

/** The password as the PKCS#12 KDF takes it: a BMPString with a two-byte NUL terminator. */
function bmpPassword(password: string): Buffer {
  return Buffer.concat([utf16be(password), Buffer.alloc(2)]);
}

/** RFC 7292 B.2. */
function pkcs12Kdf(digest: DigestName, password: string, salt: Buffer, purpose: KdfPurpose, iterations: number, size: number): Buffer {
  const v = BLOCK[digest];
  const repeat = (src: Buffer, len: number): Buffer => {
    const out = Buffer.alloc(len);
    for (let i = 0; i < len; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const p = bmpPassword(password);
  const input = Buffer.concat([repeat(salt, v * Math.ceil(salt.length / v)), repeat(p, v * Math.ceil(p.length / v))]);
  const diversifier = Buffer.alloc(v, purpose);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < size; ) {
    // The one-shot hash() halves the cost of this loop, the bulk of a store's encode time.
    let a = hash(digest, Buffer.concat([diversifier, input]), 'buffer');
    for (let r = 1; r < iterations; r++) a = hash(digest, a, 'buffer');
    blocks.push(a);
    produced += a.length;
    if (produced >= size) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I.
    const b = repeat(a, v);
    for (let j = 0; j < input.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = input[j + k]! + b[k]! + carry;
        input[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, size);
}

export interface Encrypted {
  /** The AlgorithmIdentifier, DER. */
  algorithm: Buffer;
  ciphertext: Buffer;
}

/** PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC; the password is UTF-8, as OpenSSL and Java use it. */
export function encryptPbes2(password: string, plaintext: Buffer, salt: Buffer, iv: Buffer, iterations: number): Encrypted {
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const algorithm = seq(oid(OID.pbes2), seq(seq(oid(OID.pbkdf2), seq(octets(salt), int(iterations), seq(oid(OID.hmacWithSHA256), nul()))), seq(oid(OID.aes256cbc), octets(iv))));
  return { algorithm, ciphertext: Buffer.concat([cipher.update(plaintext), cipher.final()]) };
}

/** pbeWithSHAAnd3-KeyTripleDES-CBC: key and IV from the password and salt alone. */
export function encryptLegacy3des(password: string, plaintext: Buffer, salt: Buffer, iterations: number): Encrypted {
  const key = pkcs12Kdf('sha1', password, salt, KdfPurpose.Key, iterations, 24);
  const iv = pkcs12Kdf('sha1', password, salt, KdfPurpose.Iv, iterations, 8);
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  const algorithm = seq(oid(OID.pbeWithSHAAnd3KeyTripleDESCBC), seq(octets(salt), int(iterations)));
  return { algorithm, ciphertext: Buffer.concat([cipher.update(plaintext), cipher.final()]) };
}

/** The MacData's HMAC over the authenticated safe (RFC 7292 5.1), its key from the PKCS#12 KDF. */
export function pkcs12Mac(digest: DigestName, password: string, salt: Buffer, iterations: number, data: Buffer): Buffer {
  const size = createHash(digest).digest().length;
  const key = pkcs12Kdf(digest, password, salt, KdfPurpose.Mac, iterations, size);
  return createHmac(digest, key).update(data).digest();
}

const PRF: Record<string, DigestName> = {
  [OID.hmacWithSHA1]: 'sha1',
  [OID.hmacWithSHA256]: 'sha256',
  [OID.hmacWithSHA384]: 'sha384',
  [OID.hmacWithSHA512]: 'sha512',
};
const AES: Record<string, { cipher: string; keyLength: number }> = {
  [OID.aes128cbc]: { cipher: 'aes-128-cbc', keyLength: 16 },
  [OID.aes192cbc]: { cipher: 'aes-192-cbc', keyLength: 24 },
  [OID.aes256cbc]: { cipher: 'aes-256-cbc', keyLength: 32 },
};
export const DIGEST_BY_OID: Record<string, DigestName> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

/** Decrypts with the scheme the AlgorithmIdentifier `alg` (inside `der`) names. */
export function decrypt(der: Buffer, alg: Tlv, password: string, ciphertext: Buffer): Buffer {
  const [algOid, params] = children(der, expect(der, alg, 0x30, 'encryption AlgorithmIdentifier'));
  const name = decodeOid(content(der, expect(der, algOid, 0x06, 'encryption algorithm')));
  if (name === OID.pbes2) return decryptPbes2(der, expect(der, params, 0x30, 'PBES2 parameters'), password, ciphertext);
  if (name === OID.pbeWithSHAAnd3KeyTripleDESCBC) {
    const [salt, iter] = children(der, expect(der, params, 0x30, 'PBE parameters'));
    const s = content(der, expect(der, salt, 0x04, 'PBE salt'));
    const n = readIterations(der, iter);
    const key = pkcs12Kdf('sha1', password, s, KdfPurpose.Key, n, 24);
    const iv = pkcs12Kdf('sha1', password, s, KdfPurpose.Iv, n, 8);
    return run('des-ede3-cbc', key, iv, ciphertext);
  }
  if (name === OID.pbeWithSHAAnd40BitRC2CBC) {
    throw new Error('pbeWithSHAAnd40BitRC2-CBC (RC2-40) is not supported: OpenSSL 3 keeps RC2 in its legacy provider, which Node does not load');
  }
  throw new Error(`unsupported encryption algorithm ${name}`);
}

function decryptPbes2(der: Buffer, params: Tlv, password: string, ciphertext: Buffer): Buffer {
  const [kdf, scheme] = children(der, params);
  const [kdfOid, kdfParams] = children(der, expect(der, kdf, 0x30, 'PBES2 key derivation function'));
  if (decodeOid(content(der, expect(der, kdfOid, 0x06, 'PBES2 KDF'))) !== OID.pbkdf2) throw new Error('PBES2: only PBKDF2 is supported');
  const [salt, iter, ...rest] = children(der, expect(der, kdfParams, 0x30, 'PBKDF2 parameters'));
  let prf: DigestName = 'sha1';
  for (const field of rest) {
    if (field.tag !== 0x30) continue; // keyLength INTEGER: the cipher fixes it anyway
    const prfOid = decodeOid(content(der, expect(der, children(der, field)[0], 0x06, 'PBKDF2 PRF')));
    const found = PRF[prfOid];
    if (!found) throw new Error(`PBKDF2: unsupported PRF ${prfOid}`);
    prf = found;
  }
  const [encOid, iv] = children(der, expect(der, scheme, 0x30, 'PBES2 encryption scheme'));
  const encName = decodeOid(content(der, expect(der, encOid, 0x06, 'PBES2 cipher')));
  const aes = AES[encName];
  if (!aes) throw new Error(`PBES2: unsupported cipher ${encName}`);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), content(der, expect(der, salt, 0x04, 'PBKDF2 salt')), readIterations(der, iter), aes.keyLength, prf);
  return run(aes.cipher, key, content(der, expect(der, iv, 0x04, 'PBES2 IV')), ciphertext);
}

function run(cipher: string, key: Buffer, iv: Buffer, ciphertext: Buffer): Buffer {
  try {
    const d = createDecipheriv(cipher, key, iv);
    return Buffer.concat([d.update(ciphertext), d.final()]);
  } catch {
    // A wrong password shows up as bad padding; say so rather than OpenSSL's "bad decrypt".
    throw new Error('decryption failed (wrong password?)');
  }
}

export function readIterations(der: Buffer, t: Tlv | undefined): number {
  const bytes = content(der, expect(der, t, 0x02, 'iteration count'));
  if (bytes.length > 4 || bytes.length === 0 || bytes[0]! & 0x80) throw new Error('iteration count out of range');
  const n = bytes.reduce((acc, b) => acc * 256 + b, 0);
  if (n < 1 || n > MAX_ITERATIONS) throw new Error(`iteration count ${n} out of range 1..${MAX_ITERATIONS}`);
  return n;
}

export function expect(der: Buffer, t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new Error(`${what}: expected tag 0x${tag.toString(16)}, found ${t ? `0x${t.tag.toString(16)}` : 'nothing'}`);
  return t;
}

export function content(der: Buffer, t: Tlv): Buffer {
  return der.subarray(t.start, t.end);
}
