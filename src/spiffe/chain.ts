import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { KEY_TYPES, publicKeyProblem, signatureScheme, type SignatureScheme } from './algorithms.js';
import type { Certificate } from './certificate.js';
import { children, decodeOid, readTlv } from './der.js';
import type { Subtrees } from './extensions.js';
import { LIMITS } from './limits.js';

/**
 * X.509 path validation (RFC 5280 section 6, the parts a SPIFFE chain uses): the leaf must
 * chain, through the intermediates sent with it, to a CA of a bundle, every signature checked
 * with node:crypto and every certificate of the path within its validity. The one function
 * behind both the refusal of an agent's update (x509context.ts) and `inspect`.
 *
 * What it follows: Go's crypto/x509, which go-spiffe's x509svid.Verify and Go TLS peers use.
 * A parent is found by byte-equal Name (issuer of the child = subject of the parent), must be
 * a CA (basicConstraints CA, or a v1 certificate) with keyCertSign when it has key usage, and
 * its pathLenConstraint holds; intermediates may come in any order and need not all be used;
 * name constraints (URI and DNS subtrees: an SVID's names) hold; SHA-1 and MD5 signatures and
 * critical extensions nobody here understands are refused. Not evaluated: policies.
 */

/**
 * How far in the future a notBefore may be. SPIRE back-dates certificates by 10 s for clocks a
 * little behind the server's; a refused SVID is not sent again before the next rotation (half
 * its lifetime), so a too-tight allowance would turn a clock a few seconds behind into an
 * outage. 60 s, as for a JWT-SVID's `nbf` (jwtsvid.ts): more than NTP-synced hosts ever
 * differ, far less than any SVID lifetime. Never applied to expiry: expired is expired.
 */
export const CLOCK_SKEW_MS = 60_000;

/** Stable words: the `reason` of a refused update (and the label of the refused-updates metric). */
export type ChainReason = 'chain_untrusted' | 'expired' | 'not_yet_valid' | 'unsupported_algorithm' | 'too_large';

export type ChainVerdict = { ok: true; path: readonly Certificate[] } | { ok: false; reason: ChainReason; detail: string };

/** Go's bound (maxChainSignatureChecks): same-named certificates cannot make the search explode. */
const MAX_SIGNATURE_CHECKS = 100;

/**
 * `chain`: leaf first, then the intermediates sent with it. `anchors`: the bundle's CAs.
 * Returns the path leaf → ... → anchor, or why there is none (the most telling failure met).
 */
export function verifyChain(chain: readonly Certificate[], anchors: readonly Certificate[], now: Date): ChainVerdict {
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: 'chain_untrusted', detail: 'the chain is empty' };
  const intermediates = chain.slice(1);
  const byName = anchorsByName(anchors);
  const label = (c: Certificate): string => {
    if (c === leaf) return 'the leaf';
    const i = intermediates.indexOf(c);
    const name = commonName(c.subject);
    return `${i >= 0 ? `intermediate ${i + 1}` : `bundle CA ${anchors.indexOf(c) + 1}`}${name ? ` (CN=${name})` : ''}`;
  };
  let checks = 0;
  let best: { rank: number; reason: ChainReason; detail: string } | undefined;
  const note = (rank: number, reason: ChainReason, detail: string): undefined => {
    if (!best || rank > best.rank) best = { rank, reason, detail };
    return undefined;
  };
  /** Whether `parent` can have issued `cert`; notes why not. */
  const issues = (parent: Certificate, cert: Certificate): boolean => {
    const notCa = authorityProblem(parent);
    if (notCa) return Boolean(note(1, 'chain_untrusted', `${label(parent)} names the issuer of ${label(cert)} but ${notCa}`));
    const badKey = publicKeyProblem(parent.publicKey);
    if (badKey) return Boolean(note(2, 'unsupported_algorithm', `${label(parent)} names the issuer of ${label(cert)} but ${badKey}`));
    if (++checks > MAX_SIGNATURE_CHECKS) return Boolean(note(1, 'chain_untrusted', `gave up after ${MAX_SIGNATURE_CHECKS} signature checks`));
    const sig = checkSignature(cert, parent);
    if (sig === 'ok') return true;
    if (sig === 'bad') return Boolean(note(1, 'chain_untrusted', `the signature of ${label(cert)} does not verify with the key of ${label(parent)}`));
    return Boolean(note(2, 'unsupported_algorithm', `${label(cert)}: ${sig}`));
  };
  const walk = (cert: Certificate, path: Certificate[]): Certificate[] | undefined => {
    const issuerKey = cert.issuer.toString('latin1');
    for (const anchor of byName.get(issuerKey) ?? []) {
      if (!issues(anchor, cert)) continue;
      const full = [...path, anchor];
      const invalid = validityProblem(anchor, now) ?? criticalProblem(anchor) ?? pathLenProblem(full) ?? nameConstraintProblem(full);
      if (!invalid) return full;
      note(3, invalid.reason, `${label(invalid.cert ?? anchor)} ${invalid.detail}`);
    }
    for (const next of intermediates) {
      if (path.includes(next) || !next.subject.equals(cert.issuer) || !issues(next, cert)) continue;
      const invalid = validityProblem(next, now);
      if (invalid) {
        note(3, invalid.reason, `${label(next)} ${invalid.detail}`);
        continue;
      }
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    const selfSigned = cert === leaf && cert.issuer.equals(cert.subject) ? ', it is self-signed' : '';
    const issuer = commonName(cert.issuer);
    return note(0, 'chain_untrusted', `no CA of the bundle and no intermediate issued ${label(cert)}${issuer ? ` (its issuer is CN=${issuer}${selfSigned})` : selfSigned}`);
  };
  for (const cert of chain) {
    const unhandled = criticalProblem(cert);
    if (unhandled) return { ok: false, reason: unhandled.reason, detail: `${label(cert)} ${unhandled.detail}` };
  }
  const leafKey = publicKeyProblem(leaf.publicKey);
  if (leafKey) return { ok: false, reason: 'unsupported_algorithm', detail: `the leaf: ${leafKey}` };
  const leafInvalid = validityProblem(leaf, now);
  if (leafInvalid) return { ok: false, reason: leafInvalid.reason, detail: `the leaf ${leafInvalid.detail}` };
  const path = walk(leaf, [leaf]);
  if (path) return { ok: true, path };
  return { ok: false, reason: best!.reason, detail: best!.detail };
}

/** Why a certificate cannot be a CA (Go's rule), or undefined when it can. */
export function authorityProblem(cert: Certificate): string | undefined {
  const e = cert.extensions;
  if (cert.version === 3 && !e.basicConstraintsCA) return 'it is not a CA (basicConstraints CA is not set)';
  if (e.keyUsage && !e.keyUsage.keyCertSign) return 'its key usage lacks keyCertSign';
  return undefined;
}

interface Invalid {
  reason: ChainReason;
  detail: string;
  cert?: Certificate;
}

function validityProblem(cert: Certificate, now: Date): Invalid | undefined {
  if (cert.notAfter.getTime() <= now.getTime()) return { reason: 'expired', detail: `expired at ${cert.notAfter.toISOString()}` };
  if (cert.notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) return { reason: 'not_yet_valid', detail: `is not valid before ${cert.notBefore.toISOString()}` };
  return undefined;
}

/** RFC 5280 4.2: a certificate with a critical extension nobody here understands is not used. */
function criticalProblem(cert: Certificate): Invalid | undefined {
  const oids = cert.extensions.unhandledCritical;
  return oids ? { reason: 'chain_untrusted', detail: `has a critical extension nobody here understands (${oids.join(', ')})` } : undefined;
}

/** path[k] (k >= 1) has k - 1 CAs below it, which its pathLenConstraint must allow. */
function pathLenProblem(path: readonly Certificate[]): Invalid | undefined {
  for (let k = 1; k < path.length; k++) {
    const max = path[k]!.extensions.pathLenConstraint;
    if (max !== undefined && k - 1 > max) return { reason: 'chain_untrusted', cert: path[k], detail: `allows ${max} CAs below it (pathLenConstraint), the chain has ${k - 1}` };
  }
  return undefined;
}

/** The leaf's names must be within every name constraint of the CAs above it (Go's matching rules). */
function nameConstraintProblem(path: readonly Certificate[]): Invalid | undefined {
  const leaf = path[0]!.extensions;
  const names: { [K in keyof Subtrees]: Subtrees[K] } = { uri: leaf.uris.map(uriHost), dns: leaf.dnsNames ?? [], email: leaf.emails ?? [], ip: leaf.ipAddresses ?? [] };
  const show = (name: string | Buffer): string => (typeof name === 'string' ? JSON.stringify(name) : ipText(name));
  let comparisons = 0;
  for (const ca of path.slice(1)) {
    const nc = ca.extensions.nameConstraints;
    for (const kind of nc ? (['uri', 'dns', 'email', 'ip'] as const) : []) comparisons += names[kind].length * (nc!.permitted[kind].length + nc!.excluded[kind].length);
    if (comparisons > LIMITS.nameConstraintComparisons)
      return { reason: 'too_large', cert: ca, detail: `and the CAs below it have name constraints that need more than ${LIMITS.nameConstraintComparisons} comparisons with the leaf's names` };
  }
  for (const ca of path.slice(1)) {
    const nc = ca.extensions.nameConstraints;
    if (!nc) continue;
    for (const kind of ['uri', 'dns', 'email', 'ip'] as const) {
      const permitted: readonly (string | Buffer)[] = nc.permitted[kind];
      const excluded: readonly (string | Buffer)[] = nc.excluded[kind];
      for (const name of names[kind] as readonly (string | Buffer)[]) {
        const within = (c: string | Buffer): boolean => MATCHERS[kind](name as never, c as never);
        if (permitted.length > 0 && !permitted.some(within)) return { reason: 'chain_untrusted', cert: ca, detail: `does not permit the leaf's name ${show(name)} (name constraints)` };
        if (excluded.some(within)) return { reason: 'chain_untrusted', cert: ca, detail: `excludes the leaf's name ${show(name)} (name constraints)` };
      }
    }
  }
  return undefined;
}

const MATCHERS: { [K in keyof Subtrees]: (name: Subtrees[K][number], constraint: Subtrees[K][number]) => boolean } = {
  uri: uriHostMatches,
  dns: domainMatches,
  email: emailMatches,
  ip: ipMatches,
};

function uriHost(uri: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/([^/?#:@]*)/i.exec(uri)?.[1] ?? '';
}

/** RFC 5280 4.2.1.10: a URI constraint is a host, or `.domain` for the hosts below it. */
function uriHostMatches(host: string, c: string): boolean {
  const [h, k] = [host.toLowerCase(), c.toLowerCase()];
  return k.startsWith('.') ? h.endsWith(k) : h === k;
}

/** A domain constraint matches the name and every name below it; `.domain` only the names below it (Go's rule). */
function domainMatches(name: string, c: string): boolean {
  const [n, k] = [name.toLowerCase(), c.toLowerCase()];
  if (k === '') return true;
  if (k.startsWith('.')) return n.endsWith(k);
  return n === k || n.endsWith(`.${k}`);
}

/** A mailbox constraint (with `@`) matches exactly that mailbox; otherwise it constrains the mailbox's domain. */
function emailMatches(mailbox: string, c: string): boolean {
  const at = mailbox.lastIndexOf('@');
  const [local, domain] = [mailbox.slice(0, at), mailbox.slice(at + 1)];
  if (!c.includes('@')) return domainMatches(domain, c);
  const cat = c.lastIndexOf('@');
  return local === c.slice(0, cat) && domain.toLowerCase() === c.slice(cat + 1).toLowerCase();
}

/** An address within a network: same family, equal under the mask. */
function ipMatches(ip: Buffer, c: Buffer): boolean {
  const size = c.length / 2;
  if (ip.length !== size) return false;
  for (let i = 0; i < size; i++) if ((ip[i]! & c[size + i]!) !== (c[i]! & c[size + i]!)) return false;
  return true;
}

function ipText(ip: Buffer): string {
  return ip.length === 4 ? [...ip].join('.') : (ip.toString('hex').match(/.{4}/g) ?? []).join(':');
}

const anchorIndex = new WeakMap<readonly Certificate[], Map<string, Certificate[]>>();

/** By subject, computed once per bundle (a bundle object lives as long as its bytes do not change). */
function anchorsByName(anchors: readonly Certificate[]): Map<string, Certificate[]> {
  let index = anchorIndex.get(anchors);
  if (!index) {
    index = new Map();
    for (const a of anchors) {
      const key = a.subject.toString('latin1');
      index.set(key, [...(index.get(key) ?? []), a]);
    }
    anchorIndex.set(anchors, index);
  }
  return index;
}

/**
 * Small caches across messages, keyed by bytes: a rotation brings a new leaf, but the CA and
 * intermediates that sign it stay for days. Loading a key costs ~0.8 ms (OpenSSL 3's
 * decoders), checking a signature ~0.1 ms; both are pure functions of their bytes.
 */
class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
  }
}
const publicKeys = new BoundedCache<KeyObject>(64);
/** Certificates whose signature verified with a given parent key (agents re-send the same state). */
const verified = new BoundedCache<true>(64);

function publicKeyOf(cert: Certificate): KeyObject {
  const id = cert.publicKey.spki.toString('latin1');
  let key = publicKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: cert.publicKey.spki, format: 'der', type: 'spki' });
    publicKeys.set(id, key);
  }
  return key;
}

/** 'ok', 'bad', or why the signature cannot be checked at all. */
function checkSignature(cert: Certificate, parent: Certificate): 'ok' | 'bad' | string {
  const id = `${cert.raw.toString('latin1')}\0${parent.publicKey.spki.toString('latin1')}`;
  if (verified.get(id)) return 'ok';
  const verdict = computeSignature(cert, parent);
  if (verdict === 'ok') verified.set(id, true);
  return verdict;
}

function computeSignature(cert: Certificate, parent: Certificate): 'ok' | 'bad' | string {
  let scheme: SignatureScheme | string;
  try {
    scheme = signatureScheme(cert.signatureAlgorithm);
  } catch (e) {
    return `the signature algorithm is malformed (${(e as Error).message})`;
  }
  if (typeof scheme === 'string') return scheme;
  let key: KeyObject;
  try {
    key = publicKeyOf(parent);
  } catch {
    return 'bad';
  }
  if (!KEY_TYPES[scheme.kind].includes(key.asymmetricKeyType ?? '')) return 'bad';
  try {
    const ok =
      scheme.kind === 'ed25519'
        ? verify(null, cert.tbs, key, cert.signature)
        : scheme.kind === 'pss'
          ? verify(scheme.hash, cert.tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength }, cert.signature)
          : verify(scheme.hash, cert.tbs, key, cert.signature);
    return ok ? 'ok' : 'bad';
  } catch {
    return 'bad';
  }
}

const OID_CN = '2.5.4.3';

/** The first commonName of a Name, for messages; undefined when it has none. */
export function commonName(name: Buffer): string | undefined {
  try {
    for (const rdn of children(name, readTlv(name, 0))) {
      for (const atv of children(name, rdn)) {
        const [type, value] = children(name, atv);
        if (type?.tag === 0x06 && value && decodeOid(name.subarray(type.start, type.end)) === OID_CN) return name.toString('utf8', value.start, value.end);
      }
    }
  } catch {
    // a malformed name: as if it had no CN
  }
  return undefined;
}
