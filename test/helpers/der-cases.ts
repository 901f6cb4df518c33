/**
 * Encodings: named chains whose certificates and keys are well signed but encoded in ways DER
 * and RFC 5280 allow or forbid (built field by field: ./der-certs.ts). Run like ./chain-cases.ts:
 * by our validation (test/spiffe/chain.test.ts) and by go-spiffe (test/interop).
 *
 * Where go-spiffe (Go's crypto/x509 parser) and the standards disagree, we follow the
 * standards and `goSpiffe` records Go's verdict; the reason is beside the case. Go is lenient
 * where it skips what it does not read (a field after the extensions, a v1 certificate's
 * extensions, bytes after a value) or reads BER (a DEFAULT written out, a time without
 * seconds); OpenSSL, BoringSSL or rustls's webpki refuse those, so a file we wrote would fail
 * with some peer.
 */
import { createPrivateKey } from 'node:crypto';
import { children, readTlv, type Tlv } from '../../src/spiffe/der.js';
import type { ChainCase } from './chain-cases.js';
import {
  basicConstraints,
  bits,
  bool,
  build,
  der,
  generalizedTime,
  integer,
  keyPair,
  keyUsage,
  NULL,
  octets,
  oid,
  seq,
  spkiOf,
  uriSans,
  utcTime,
  type BuildOptions,
  type Extension,
  type KeyKind,
  type Tbs,
} from './der-certs.js';

const ID = 'spiffe://example.org/workload';
const MINUTE = 60_000;

/** A root and a leaf of ID, each built with `root`/`leaf` options over the usual ones. */
function pair(leaf: Partial<BuildOptions> = {}, root: Partial<BuildOptions> = {}) {
  const r = build({ cn: 'example.org root', ca: true, ...root });
  const l = build({ cn: 'workload', uris: [ID], issuer: r, ...leaf });
  return { chain: [l.der], keyDer: l.keyDer, bundle: [r.der] };
}
const made = async (m: ReturnType<typeof pair>) => m;

const leafExtensions = (...more: Extension[]): Extension[] => [basicConstraints(false), keyUsage(false), uriSans(ID), ...more];
const caExtensions = (...more: Extension[]): Extension[] => [basicConstraints(true), keyUsage(true), ...more];
const san = (...names: Buffer[]): Extension => ['2.5.29.17', false, seq(...names)];
const validity =
  (text: (d: Date) => Buffer) =>
  (t: Tbs): Tbs => ({ ...t, validity: seq(text(new Date(Date.now() - MINUTE)), text(new Date(Date.now() + 60 * MINUTE))) });
const cn = (tag: number, value: Buffer) => seq(der(0x31, seq(oid('2.5.4.3'), der(tag, value))));

/** An RSA SubjectPublicKeyInfo written by hand: `params` after the OID, then n and e as given. */
function rsaSpki(kind: KeyKind, o: { params?: Buffer[]; n?: (n: Buffer) => Buffer; e?: Buffer }) {
  const p = keyPair(kind);
  const jwk = p.publicKey.export({ format: 'jwk' });
  const n = Buffer.concat([Buffer.from([0]), Buffer.from(jwk.n!, 'base64url')]);
  const spki = seq(seq(oid('1.2.840.113549.1.1.1'), ...(o.params ?? [NULL])), bits(seq(der(0x02, o.n ? o.n(n) : n), o.e ?? integer('010001'))));
  return { pair: p, edit: (t: Tbs): Tbs => ({ ...t, spki }) };
}

/** The elements of a DER SEQUENCE, each whole. */
const elements = (b: Buffer): Buffer[] => children(b, readTlv(b, 0)).map((t) => b.subarray(t.offset, t.next));

/** A PKCS#8 v2 (RFC 5958 OneAsymmetricKey) of the leaf's key, with `publicKey` in [1]. */
function oneAsymmetricKey(kind: KeyKind, publicKey: (own: Buffer) => Buffer) {
  const m = pair({ pair: keyPair(kind) });
  const [, algorithm, privateKey] = elements(m.keyDer);
  return { ...m, keyDer: seq(integer('01'), algorithm!, privateKey!, der(0x81, Buffer.from([0]), publicKey(spkiBits(m.chain[0]!)))) };
}

/** The certificate with its signature value replaced by `edit`'s (the signed part untouched). */
function withSignature(cert: Buffer, edit: (signature: Buffer) => Buffer): Buffer {
  const [tbs, algorithm, signature] = children(cert, readTlv(cert, 0));
  const whole = (t: Tlv) => cert.subarray(t.offset, t.next);
  return seq(whole(tbs!), whole(algorithm!), bits(edit(cert.subarray(signature!.start + 1, signature!.end))));
}

/** The subjectPublicKey bytes of a certificate. */
function spkiBits(cert: Buffer): Buffer {
  const tbs = children(cert, readTlv(cert, 0))[0]!;
  const spki = children(cert, tbs)[6]!;
  const bitString = children(cert, spki)[1]!;
  return cert.subarray(bitString.start + 1, bitString.end);
}

export const derCases: ChainCase[] = [
  // --- allowed encodings: must verify -------------------------------------------------------
  { name: 'serial number 0', goSpiffe: 'accepts', make: () => made(pair({ edit: (t) => ({ ...t, serial: integer('00') }) })) },
  { name: 'a 21-octet serial number (RFC 5280: clients should handle longer ones)', goSpiffe: 'accepts', make: () => made(pair({ edit: (t) => ({ ...t, serial: integer(`01${'23'.repeat(20)}`) }) })) },
  {
    name: 'a v3 leaf with issuer and subject unique IDs',
    goSpiffe: 'accepts',
    make: () => made(pair({ edit: (t) => ({ ...t, after: [der(0x81, Buffer.from([0, 1])), der(0x82, Buffer.from([0, 2])), ...t.after] }) })),
  },
  { name: 'GeneralizedTime for a date before 2050 (a CA rule, not a reader one)', goSpiffe: 'accepts', make: () => made(pair({ edit: validity((d) => generalizedTime(d)) })) },
  // RFC 4055 section 5: readers MUST accept the NULL parameters absent as well as present.
  {
    name: 'sha256WithRSAEncryption without its NULL parameters',
    goSpiffe: 'accepts',
    make: () => made(pair({ edit: (t) => ({ ...t, signature: seq(oid('1.2.840.113549.1.1.11')) }) }, { pair: keyPair('rsa-2048') })),
  },
  {
    name: 'root pathLenConstraint 2^32 (a large INTEGER, not a malformed one)',
    goSpiffe: 'accepts',
    make: () => made(pair({}, { extensions: [basicConstraints(true, '0100000000'), keyUsage(true)] })),
  },
  { name: 'a bundle CA with the URI SAN of another trust domain', goSpiffe: 'accepts', make: () => made(pair({}, { extensions: caExtensions(uriSans('spiffe://other.org')) })) },
  {
    name: 'the chain repeats its intermediate',
    goSpiffe: 'accepts',
    make: async () => {
      const r = build({ cn: 'example.org root', ca: true });
      const i = build({ cn: 'intermediate', ca: true, issuer: r });
      const l = build({ cn: 'workload', uris: [ID], issuer: i });
      return { chain: [l.der, i.der, i.der], keyDer: l.keyDer, bundle: [r.der] };
    },
  },
  {
    name: 'the bundle CA is also sent as an intermediate',
    goSpiffe: 'accepts',
    make: async () => {
      const m = pair();
      return { ...m, chain: [m.chain[0]!, m.bundle[0]!] };
    },
  },
  { name: 'an Ed25519 leaf under a P-256 root', goSpiffe: 'accepts', make: () => made(pair({ pair: keyPair('ed25519') })) },
  {
    name: 'a PKCS#8 key with attributes',
    goSpiffe: 'accepts',
    make: async () => {
      const m = pair();
      return { ...m, keyDer: seq(...elements(m.keyDer), der(0xa0, seq(oid('1.2.840.113549.1.9.20'), der(0x31, der(0x1e, Buffer.from('\0k')))))) };
    },
  },
  { name: 'a PKCS#8 v2 (OneAsymmetricKey) EC key carrying its public key', goSpiffe: 'accepts', make: async () => oneAsymmetricKey('ec-p256', (own) => own) },
  { name: 'a PKCS#8 v2 (OneAsymmetricKey) Ed25519 key carrying its public key', goSpiffe: 'accepts', make: async () => oneAsymmetricKey('ed25519', (own) => own) },

  // X.690 11.5 leaves a DEFAULT value out, but Go, OpenSSL, webpki and mozilla::pkix read it written out (webpki: "for
  // compatibility with real-world certificates"): such a file works everywhere, so it is not refused.
  {
    name: 'a v1 bundle CA whose version v1 is written out ([0] INTEGER 0)',
    goSpiffe: 'accepts',
    make: () => made(pair({}, { edit: (t) => ({ ...t, version: der(0xa0, integer('00')), after: [] }) })),
  },
  {
    name: 'a leaf extension marked critical FALSE explicitly',
    goSpiffe: 'accepts',
    make: () => made(pair({ extensions: [basicConstraints(false), keyUsage(false), ['2.5.29.17', 'explicit-false', seq(der(0x86, Buffer.from(ID)))]] })),
  },
  {
    name: 'a leaf basicConstraints with cA FALSE written out',
    goSpiffe: 'accepts',
    make: () => made(pair({ extensions: [['2.5.29.19', true, seq(bool(false))], keyUsage(false), uriSans(ID)] })),
  },

  // --- must be refused ------------------------------------------------------------------------
  // The tbsCertificate's shape (RFC 5280 4.1): after the key, [1], [2], [3] in that order, nothing else.
  {
    name: 'an element between the key and the extensions of the leaf',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: (t) => ({ ...t, after: [octets(Buffer.from('x')), ...t.after] }) })),
  },
  {
    name: 'an element between the key and the extensions of the bundle CA',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { edit: (t) => ({ ...t, after: [octets(Buffer.from('x')), ...t.after] }) })),
  },
  {
    name: 'a constructed issuerUniqueID before the leaf extensions',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: (t) => ({ ...t, after: [der(0xa1, bits(Buffer.from([1]))), ...t.after] }) })),
  },
  // Go stops reading the tbsCertificate after the extensions; OpenSSL refuses the certificate.
  { name: 'an element after the leaf extensions', reason: 'x509svid', goSpiffe: 'accepts', make: () => made(pair({ edit: (t) => ({ ...t, after: [...t.after, integer('01')] }) })) },
  {
    name: 'a subjectUniqueID after the leaf extensions',
    reason: 'x509svid',
    goSpiffe: 'accepts',
    make: () => made(pair({ edit: (t) => ({ ...t, after: [...t.after, der(0x82, Buffer.from([0, 1]))] }) })),
  },
  { name: 'two extensions fields in the leaf', reason: 'x509svid', goSpiffe: 'accepts', make: () => made(pair({ edit: (t) => ({ ...t, after: [...t.after, ...t.after] }) })) },
  // RFC 5280 4.1.2.8-9: unique IDs only from v2, extensions only in v3. Go ignores what a v1 has after its key.
  {
    name: 'a v1 bundle CA with unique IDs',
    reason: 'x509bundle',
    goSpiffe: 'accepts',
    make: () => made(pair({}, { edit: (t) => ({ ...t, version: undefined, after: [der(0x81, Buffer.from([0, 1]))] }) })),
  },
  { name: 'a v2 bundle CA with extensions', reason: 'x509bundle', goSpiffe: 'accepts', make: () => made(pair({}, { edit: (t) => ({ ...t, version: der(0xa0, integer('01')) }) })) },
  // Go, like OpenSSL, ignores what follows the signature inside the certificate's SEQUENCE.
  { name: 'bytes after the signature inside the leaf SEQUENCE', reason: 'x509svid', goSpiffe: 'accepts', make: () => made(pair({ trailing: NULL })) },

  // RFC 5280 4.1.1.2: the signatureAlgorithm outside is the signature field inside, byte for byte.
  {
    name: 'the outer signature algorithm with NULL parameters, the signed one without',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ outerAlgorithm: seq(oid('1.2.840.10045.4.3.2'), NULL) })),
  },
  {
    name: 'a SEC 1 EC key instead of PKCS#8',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: async () => {
      const m = pair();
      return { ...m, keyDer: createPrivateKey({ key: m.keyDer, format: 'der', type: 'pkcs8' }).export({ format: 'der', type: 'sec1' }) };
    },
  },
  // DER INTEGERs are minimal (X.690 8.3.2).
  { name: 'a leaf version INTEGER padded (00 02)', reason: 'x509svid', goSpiffe: 'rejects', make: () => made(pair({ edit: (t) => ({ ...t, version: der(0xa0, integer('0002')) }) })) },
  { name: 'a root pathLenConstraint padded (00 01)', reason: 'x509bundle', goSpiffe: 'rejects', make: () => made(pair({}, { extensions: [basicConstraints(true, '0001'), keyUsage(true)] })) },
  {
    name: 'an RSA leaf modulus padded with a second zero byte',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair(rsaSpki('rsa-2048', { n: (n) => Buffer.concat([Buffer.from([0]), n]) }))),
  },
  { name: 'an RSA bundle CA public exponent padded (00 01 00 01)', reason: 'x509bundle', goSpiffe: 'rejects', make: () => made(pair({}, rsaSpki('rsa-2048', { e: integer('00010001') }))) },
  // RFC 3279 2.3.1 and RFC 8410 3: the key's parameters are NULL (RSA) or absent (Ed25519).
  { name: 'an RSA leaf key without its NULL parameters', reason: 'x509svid', goSpiffe: 'rejects', make: () => made(pair(rsaSpki('rsa-2048', { params: [] }))) },
  {
    name: 'an Ed25519 bundle CA key with NULL parameters',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: async () => {
      const p = keyPair('ed25519');
      return pair({}, { pair: p, edit: (t) => ({ ...t, spki: seq(seq(oid('1.3.101.112'), NULL), bits(spkiOf(p).subarray(-32))) }) });
    },
  },
  // RFC 5758 3.2: ECDSA's parameters are absent. Go and OpenSSL read NULL ones; webpki (rustls) matches the identifier byte for byte and refuses them.
  {
    name: 'an ECDSA signature algorithm with NULL parameters',
    reason: 'unsupported_algorithm',
    goSpiffe: 'accepts',
    make: () => made(pair({ edit: (t) => ({ ...t, signature: seq(oid('1.2.840.10045.4.3.2'), NULL) }) })),
  },
  {
    name: 'an Ed25519 signature algorithm with NULL parameters',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: (t) => ({ ...t, signature: seq(oid('1.3.101.112'), NULL) }) }, { pair: keyPair('ed25519') })),
  },

  // An extension's value is exactly one DER value of its type (RFC 5280 4.1: extnValue holds its DER encoding).
  {
    name: 'bytes after the SAN value inside its OCTET STRING',
    reason: 'x509svid',
    goSpiffe: 'accepts',
    make: () => made(pair({ extensions: [basicConstraints(false), keyUsage(false), ['2.5.29.17', false, Buffer.concat([seq(der(0x86, Buffer.from(ID))), NULL])]] })),
  },
  {
    name: 'an INTEGER after cA and pathLen in the root basicConstraints',
    reason: 'x509bundle',
    goSpiffe: 'accepts',
    make: () => made(pair({}, { extensions: [['2.5.29.19', true, seq(bool(true), integer('01'), integer('02'))], keyUsage(true)] })),
  },
  // RFC 5280 4.2.1.1, 4.2.1.2, 4.2.2.1: these MUST be non-critical; Go and OpenSSL refuse them critical.
  {
    name: 'a critical subjectKeyIdentifier on the leaf',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['2.5.29.14', true, octets(Buffer.alloc(20, 1))]) })),
  },
  {
    name: 'a critical authorityKeyIdentifier on the leaf',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['2.5.29.35', true, seq(der(0x80, Buffer.alloc(20, 1)))]) })),
  },
  {
    name: 'a critical authorityInfoAccess on the leaf',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['1.3.6.1.5.5.7.1.1', true, seq(seq(oid('1.3.6.1.5.5.7.48.2'), der(0x86, Buffer.from('http://ca.example.org/ca.crt'))))]) })),
  },
  {
    name: 'a leaf subjectKeyIdentifier that is not an OCTET STRING',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['2.5.29.14', false, integer('01')]) })),
  },
  {
    name: 'a leaf extKeyUsage that is not a SEQUENCE of OIDs',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['2.5.29.37', false, seq(integer('01'))]) })),
  },
  {
    name: 'a leaf extKeyUsage OID not minimally encoded',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['2.5.29.37', false, seq(der(0x06, Buffer.from([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x80, 0x02])))]) })),
  },
  {
    name: 'leaf certificatePolicies naming one policy twice',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['2.5.29.32', false, seq(seq(oid('2.5.29.32.0')), seq(oid('2.5.29.32.0')))]) })),
  },
  {
    name: 'leaf certificatePolicies that are not a SEQUENCE of policies',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: leafExtensions(['2.5.29.32', false, integer('01')]) })),
  },
  {
    name: 'root cRLDistributionPoints that are not a SEQUENCE of points',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(['2.5.29.31', false, integer('01')]) })),
  },

  // SAN names (RFC 5280 4.2.1.6): dNSName, rfc822Name and URI are IA5String (ASCII), a URI is RFC 3986, an iPAddress 4 or 16 octets.
  {
    name: 'a leaf dNSName SAN with a non-ASCII byte',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: [basicConstraints(false), keyUsage(false), san(der(0x86, Buffer.from(ID)), der(0x82, Buffer.from('h\xe9.example.org', 'latin1')))] })),
  },
  {
    name: 'a leaf iPAddress SAN of 5 octets',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ extensions: [basicConstraints(false), keyUsage(false), san(der(0x86, Buffer.from(ID)), der(0x87, Buffer.from([10, 0, 0, 1, 5])))] })),
  },
  { name: 'a bundle CA URI SAN with a bad percent-escape', reason: 'x509bundle', goSpiffe: 'rejects', make: () => made(pair({}, { extensions: caExtensions(uriSans('spiffe://example.org/%zz')) })) },
  {
    name: 'a bundle CA rfc822Name SAN with a non-ASCII byte',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(san(der(0x81, Buffer.from('ca@\xe9.org', 'latin1')))) })),
  },
  // RFC 3986 as Go's url.Parse reads the URIs of every certificate (a bundle file with one it cannot parse fails as a whole).
  { name: 'a bundle CA URI SAN whose host ends with a dot', reason: 'x509bundle', goSpiffe: 'rejects', make: () => made(pair({}, { extensions: caExtensions(uriSans('spiffe://example.org./')) })) },
  {
    name: 'a bundle CA URI SAN with a port that is not a number',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(uriSans('https://ca.example.org:8x/')) })),
  },
  { name: "a bundle CA URI SAN with '{' in its host", reason: 'x509bundle', goSpiffe: 'rejects', make: () => made(pair({}, { extensions: caExtensions(uriSans('https://ca{1}.example.org/')) })) },
  {
    name: 'a bundle CA URI SAN with user info, a port, and a relative URI beside it',
    goSpiffe: 'accepts',
    make: () => made(pair({}, { extensions: caExtensions(uriSans('https://ops@ca.example.org:8443/x?y#z', 'ca-1')) })),
  },
  // Name constraints (RFC 5280 4.2.1.10): permitted then excluded, at least one; IA5 names; an address with a netmask; a URI constraint is a host.
  {
    name: 'root name constraints with neither permitted nor excluded subtrees',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(['2.5.29.30', true, seq()]) })),
  },
  {
    name: 'root name constraints with the excluded subtrees first',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(['2.5.29.30', true, seq(der(0xa1, seq(der(0x82, Buffer.from('other.org')))), der(0xa0, seq(der(0x86, Buffer.from('example.org')))))]) })),
  },
  {
    name: 'a root iPAddress constraint whose mask is not a netmask',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(['2.5.29.30', true, seq(der(0xa1, seq(der(0x87, Buffer.from([10, 0, 0, 0, 255, 0, 255, 0])))))]) })),
  },
  {
    name: 'a root URI constraint that is an IP address',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(['2.5.29.30', true, seq(der(0xa1, seq(der(0x86, Buffer.from('10.0.0.1')))))]) })),
  },
  {
    name: 'a root DNS constraint with a trailing dot',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(['2.5.29.30', true, seq(der(0xa1, seq(der(0x82, Buffer.from('other.org.')))))]) })),
  },
  {
    name: 'a root mailbox constraint that is not a mailbox',
    reason: 'x509bundle',
    goSpiffe: 'rejects',
    make: () => made(pair({}, { extensions: caExtensions(['2.5.29.30', true, seq(der(0xa1, seq(der(0x81, Buffer.from('a b@@other.org')))))]) })),
  },
  // Bounded work (issue 12 item 14): Go before 1.25 refused more than 250,000 comparisons; Go 1.26 matches in log-linear time.
  {
    name: 'name constraints that need more than 250,000 comparisons (600 leaf names, 500 root constraints)',
    reason: 'too_large',
    goSpiffe: 'accepts',
    make: async () => {
      const constraints = Array.from({ length: 500 }, (_, i) => seq(der(0x82, Buffer.from(`n${i}.other.org`))));
      const names = Array.from({ length: 600 }, (_, i) => der(0x82, Buffer.from(`w${i}.example.org`)));
      return pair(
        { extensions: [basicConstraints(false), keyUsage(false), san(der(0x86, Buffer.from(ID)), ...names)] },
        { extensions: caExtensions(['2.5.29.30', true, seq(der(0xa1, ...constraints))]) },
      );
    },
  },
  // SPIFFE-ID: the scheme is `spiffe`; Go lower-cases a URI's scheme before go-spiffe reads it, peers matching the SAN's text (Envoy) do not.
  {
    name: 'a leaf URI SAN with the scheme in capitals (SPIFFE://)',
    reason: 'x509svid',
    goSpiffe: 'accepts',
    make: () => made(pair({ extensions: [basicConstraints(false), keyUsage(false), uriSans('SPIFFE://example.org/workload')] })),
  },

  // Names (X.501, RFC 5280 4.1.2.4): a SEQUENCE of SETs of (OID, string), each string valid for its type.
  {
    name: 'a leaf subject PrintableString holding "@"',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: (t) => ({ ...t, subject: cn(0x13, Buffer.from('ops@example.org')) }) })),
  },
  {
    name: 'a leaf subject UTF8String that is not UTF-8',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: (t) => ({ ...t, subject: cn(0x0c, Buffer.from([0x77, 0xc3, 0x28])) }) })),
  },
  {
    name: 'a leaf subject value that is not a string (OCTET STRING)',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: (t) => ({ ...t, subject: cn(0x04, Buffer.from('w')) }) })),
  },
  { name: 'a leaf subject that is a SEQUENCE of an INTEGER', reason: 'x509svid', goSpiffe: 'rejects', make: () => made(pair({ edit: (t) => ({ ...t, subject: seq(integer('01')) }) })) },

  {
    name: 'a leaf subject BMPString holding a lone surrogate',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: (t) => ({ ...t, subject: cn(0x1e, Buffer.from([0xd8, 0x00])) }) })),
  },
  // SEC 1 2.3.4 / Go: a public point is on its curve; Go refuses a bundle file holding a CA whose point is not.
  {
    name: 'a second bundle CA whose EC point is not on P-256',
    reason: 'unsupported_algorithm',
    goSpiffe: 'rejects',
    make: async () => {
      const m = pair();
      const p = keyPair();
      const point = Buffer.from(spkiOf(p).subarray(-65));
      point[64]! ^= 1;
      const off = build({ cn: 'off the curve', ca: true, pair: p, edit: (t) => ({ ...t, spki: seq(seq(oid('1.2.840.10045.2.1'), oid('1.2.840.10045.3.1.7')), bits(point)) }) });
      return { ...m, bundle: [...m.bundle, off.der] };
    },
  },

  // Times (RFC 5280 4.1.2.5): YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ only; Go reads a UTCTime without seconds, OpenSSL refuses it.
  {
    name: 'a leaf UTCTime without seconds',
    reason: 'x509svid',
    goSpiffe: 'accepts',
    make: () => made(pair({ edit: validity((d) => utcTime(d, `${d.toISOString().slice(2, 16).replace(/[-T:]/g, '')}Z`)) })),
  },
  {
    name: 'a leaf GeneralizedTime with fractional seconds',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: () => made(pair({ edit: validity((d) => generalizedTime(d, `${d.toISOString().slice(0, 19).replace(/[-T:]/g, '')}.5Z`)) })),
  },

  // Keys (RFC 5958): the public key a v2 PKCS#8 carries is its own.
  {
    name: 'a PKCS#8 v2 EC key carrying the public key of another key',
    reason: 'x509svid',
    goSpiffe: 'accepts',
    make: async () => oneAsymmetricKey('ec-p256', () => spkiOf(keyPair('ec-p256')).subarray(-65)),
  },
  {
    name: 'a PKCS#8 v2 Ed25519 key carrying the public key of another key',
    reason: 'x509svid',
    goSpiffe: 'accepts',
    make: async () => oneAsymmetricKey('ed25519', () => spkiOf(keyPair('ed25519')).subarray(-32)),
  },
  // Signature values: DER inside (ECDSA-Sig-Value), exactly the modulus's length (RSA); node:crypto (OpenSSL) checks both, as Go does.
  {
    name: 'an ECDSA signature whose r is padded with a zero byte',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const m = pair();
      const padded = withSignature(m.chain[0]!, (sig) => {
        const [r, s] = children(sig, readTlv(sig, 0));
        return seq(der(0x02, Buffer.from([0]), sig.subarray(r!.start, r!.end)), sig.subarray(s!.offset, s!.next));
      });
      return { ...m, chain: [padded] };
    },
  },
  {
    name: 'an RSA signature one byte longer than the modulus (a leading zero)',
    reason: 'chain_untrusted',
    goSpiffe: 'rejects',
    make: async () => {
      const m = pair({}, { pair: keyPair('rsa-2048') });
      return { ...m, chain: [withSignature(m.chain[0]!, (sig) => Buffer.concat([Buffer.from([0]), sig]))] };
    },
  },
  { name: 'an Ed448 leaf key (Go reads no Ed448 private key)', reason: 'unsupported_algorithm', goSpiffe: 'rejects', make: () => made(pair({ pair: keyPair('ed448') })) },
  {
    name: 'the leaf sent again as its own intermediate',
    reason: 'x509svid',
    goSpiffe: 'rejects',
    make: async () => {
      const m = pair();
      return { ...m, chain: [m.chain[0]!, m.chain[0]!] };
    },
  },
];
