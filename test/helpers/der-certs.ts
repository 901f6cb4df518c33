/**
 * Certificates assembled field by field in DER and signed with node:crypto: for the encodings
 * no certificate library will produce (a DEFAULT written out, an INTEGER padded, a field out of
 * place, a time without seconds, ...), each with a signature that verifies, so that what is
 * tested is the encoding and nothing else.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** A DER element: tag, definite minimal length, content. */
export function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

export const seq = (...content: Buffer[]): Buffer => der(0x30, ...content);

export function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
}

/** An INTEGER holding exactly these content bytes (minimal or not: the caller decides). */
export const integer = (hex: string): Buffer => der(0x02, Buffer.from(hex, 'hex'));
export const bool = (v: boolean): Buffer => der(0x01, Buffer.from([v ? 0xff : 0x00]));
export const octets = (content: Buffer): Buffer => der(0x04, content);
export const bits = (content: Buffer, unused = 0): Buffer => der(0x03, Buffer.from([unused]), content);
export const NULL = Buffer.from([0x05, 0x00]);

export const name = (cn: string): Buffer => seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn)))));

/** UTCTime YYMMDDHHMMSSZ (RFC 5280's only form) unless `text` is given. */
export const utcTime = (d: Date, text?: string): Buffer => der(0x17, Buffer.from(text ?? `${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`, 'latin1'));
export const generalizedTime = (d: Date, text?: string): Buffer => der(0x18, Buffer.from(text ?? `${d.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`, 'latin1'));

export type Extension = [oid: string, critical: boolean | 'explicit-false', value: Buffer];

export function extension([id, critical, value]: Extension): Buffer {
  return seq(oid(id), ...(critical === true ? [bool(true)] : critical === 'explicit-false' ? [bool(false)] : []), octets(value));
}

/** basicConstraints: cA TRUE (and a pathLen), or the empty SEQUENCE of an end entity. */
export const basicConstraints = (ca: boolean, pathLen?: string): Extension => ['2.5.29.19', true, seq(...(ca ? [bool(true)] : []), ...(pathLen !== undefined ? [integer(pathLen)] : []))];
/** keyUsage digitalSignature (80, 7 unused bits) or keyCertSign|cRLSign (06, 1 unused bit). */
export const keyUsage = (ca: boolean): Extension => ['2.5.29.15', true, ca ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)];
export const uriSans = (...uris: string[]): Extension => ['2.5.29.17', false, seq(...uris.map((u) => der(0x86, Buffer.from(u, 'latin1'))))];

export type KeyKind = 'ec-p256' | 'rsa-2048' | 'ed25519' | 'ed448';

export interface Pair {
  kind: KeyKind;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A fresh key pair. */
export function keyPair(kind: KeyKind = 'ec-p256'): Pair {
  if (kind === 'ec-p256') return { kind, ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) };
  if (kind === 'rsa-2048') return { kind, ...generateKeyPairSync('rsa', { modulusLength: 2048 }) };
  return { kind, ...(kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ed448')) };
}

/** The signature AlgorithmIdentifier a key of this kind signs with (SHA-256 where there is a choice). */
export function signatureAlgorithm(kind: KeyKind): Buffer {
  const oids: Record<KeyKind, string> = { 'ec-p256': '1.2.840.10045.4.3.2', 'rsa-2048': '1.2.840.113549.1.1.11', ed25519: '1.3.101.112', ed448: '1.3.101.113' };
  return kind === 'rsa-2048' ? seq(oid(oids[kind]), NULL) : seq(oid(oids[kind]));
}

export const spkiOf = (p: Pair): Buffer => p.publicKey.export({ format: 'der', type: 'spki' });

/** The fields of a tbsCertificate, each a whole DER element; `version` undefined means absent (v1). */
export interface Tbs {
  version?: Buffer;
  serial: Buffer;
  signature: Buffer;
  issuer: Buffer;
  validity: Buffer;
  subject: Buffer;
  spki: Buffer;
  /** issuerUniqueID, subjectUniqueID, extensions: whatever follows the SPKI, in order. */
  after: Buffer[];
}

export interface Built {
  der: Buffer;
  pair: Pair;
  /** PKCS#8 DER of `pair`'s private key. */
  keyDer: Buffer;
  subject: Buffer;
}

export interface BuildOptions {
  cn: string;
  /** Signed by this one (its subject as the issuer); self-signed without. */
  issuer?: Built;
  ca?: boolean;
  uris?: string[];
  pair?: Pair;
  /** Extensions instead of the usual ones (basicConstraints, keyUsage, URI SANs). */
  extensions?: Extension[];
  /** Changes the fields before signing. */
  edit?: (tbs: Tbs) => Tbs;
  /** The outer signatureAlgorithm, when it is to differ from the signed one. */
  outerAlgorithm?: Buffer;
  /** Bytes inside the outer SEQUENCE, after the signature. */
  trailing?: Buffer;
}

let serials = 0x1000;

/** A certificate whose signature verifies with its issuer's key, whatever the fields hold. */
export function build(o: BuildOptions): Built {
  const pair = o.pair ?? keyPair();
  const signer = o.issuer?.pair ?? pair;
  const subject = name(o.cn);
  const extensions = o.extensions ?? [basicConstraints(o.ca ?? false), keyUsage(o.ca ?? false), ...(o.uris?.length ? [uriSans(...o.uris)] : [])];
  const now = Date.now();
  const defaults: Tbs = {
    version: der(0xa0, integer('02')),
    serial: integer((serials++).toString(16).padStart(4, '0')),
    signature: signatureAlgorithm(signer.kind),
    issuer: o.issuer?.subject ?? subject,
    validity: seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 3_600_000))),
    subject,
    spki: spkiOf(pair),
    after: [der(0xa3, seq(...extensions.map(extension)))],
  };
  const t = o.edit ? o.edit(defaults) : defaults;
  const tbs = seq(...(t.version ? [t.version] : []), t.serial, t.signature, t.issuer, t.validity, t.subject, t.spki, ...t.after);
  const signature = sign(signer.kind.startsWith('ed') ? null : 'sha256', tbs, signer.privateKey);
  const cert = seq(tbs, o.outerAlgorithm ?? t.signature, bits(signature), ...(o.trailing ? [o.trailing] : []));
  return { der: cert, pair, keyDer: pair.privateKey.export({ format: 'der', type: 'pkcs8' }), subject: t.subject };
}
