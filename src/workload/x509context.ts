import { HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseX509Bundle, requireOnlyCas, type X509Bundle } from '../spiffe/bundle.js';
import { verifyChain } from '../spiffe/chain.js';
import { countDerElements } from '../spiffe/der.js';
import { TrustDomain } from '../spiffe/id.js';
import { LIMITS } from '../spiffe/limits.js';
import { parseX509Svid, type X509Svid } from '../spiffe/x509svid.js';
import type { BundleCache } from './bundle-cache.js';
import type { X509SVIDResponseMessage } from './proto.js';

/**
 * One FetchX509SVID message, validated as a whole: the SVIDs, each chained and verified to
 * its own trust domain's bundle, and the federated bundles. Every message is the complete
 * current state, so a single bad part rejects the message and the last good state stays in
 * force.
 */
export interface X509Context {
  /** Non-empty; hints are unique (a later duplicate is dropped, as go-spiffe does). */
  readonly svids: readonly X509Svid[];
  /** Bundles of the SVIDs' own trust domains, by trust domain name. */
  readonly bundles: ReadonlyMap<string, X509Bundle>;
  /** Federated bundles that hold CAs, by trust domain name. */
  readonly federatedBundles: ReadonlyMap<string, X509Bundle>;
  /**
   * Federated trust domains whose X.509 bundle is empty (sorted): nothing of theirs is
   * trusted, so they are in no file (SPIRE sends this for a domain with only JWT authorities).
   */
  readonly emptyFederatedDomains: readonly string[];
  /**
   * Certificates of federated bundles left out because they cannot be a CA. A partner's
   * faulty bundle must not stop the workload's own rotation: its CAs are kept, the rest said.
   */
  readonly ignoredFederated: readonly string[];
}

/** `cache`: reuse the bundles of the previous message where their bytes are unchanged (daemon mode). */
export function parseX509Context(msg: X509SVIDResponseMessage, now: Date = new Date(), cache?: BundleCache): X509Context {
  const bundleOf = (td: TrustDomain, der: Uint8Array, cached = true): X509Bundle => (cache && cached ? cache.parse(td, der) : parseX509Bundle(td, der));
  const svidCount = msg.svids?.length ?? 0;
  if (svidCount === 0) throw new HelperError('x509svid', 'x509svid: the response holds no SVIDs');
  if (svidCount > LIMITS.svids) throw new HelperError('x509svid', `x509svid: the response holds ${svidCount} SVIDs, more than ${LIMITS.svids}`, { reason: 'too_large' });
  const federated = Object.entries(msg.federated_bundles ?? {});
  if (federated.length > LIMITS.federatedBundles) {
    throw new HelperError('x509bundle', `x509bundle: the response holds ${federated.length} federated bundles, more than ${LIMITS.federatedBundles}`, { reason: 'too_large' });
  }
  checkBundleSizes(msg.svids, federated);
  const svids: X509Svid[] = [];
  const bundles = new Map<string, X509Bundle>();
  const bundleBytes = new Map<string, Buffer>();
  const hints = new Set<string>();
  for (const raw of msg.svids) {
    if (raw.hint !== '' && hints.has(raw.hint)) continue;
    hints.add(raw.hint);
    const svid = parseX509Svid({ spiffeId: raw.spiffe_id, chainDer: raw.x509_svid, keyDer: raw.x509_svid_key, hint: raw.hint }, now);
    const td = svid.id.trustDomain;
    // SPIRE sends the same bundle with every SVID of a trust domain; the first one is kept,
    // and an SVID that came with other bytes is verified against what came with it.
    const first = bundles.get(td.name);
    const bundle = first && Buffer.from(raw.bundle).equals(bundleBytes.get(td.name)!) ? first : bundleOf(td, raw.bundle, !first);
    requireOnlyCas(bundle);
    if (bundle.certificates.length === 0) {
      throw new HelperError('x509bundle', `x509bundle: the bundle of ${svid.id}'s own trust domain "${td.name}" is empty`, { reason: 'bundle_missing' });
    }
    if (!first) {
      bundles.set(td.name, bundle);
      bundleBytes.set(td.name, Buffer.from(raw.bundle));
    }
    const verdict = verifyChain(svid.certificates, bundle.certificates, now);
    if (!verdict.ok) {
      throw new HelperError('x509svid', `x509svid ${svid.id}: the chain does not verify against the bundle of "${td.name}": ${verdict.detail}`, { reason: verdict.reason });
    }
    svids.push(svid);
  }
  const federatedBundles = new Map<string, X509Bundle>();
  const emptyFederatedDomains: string[] = [];
  const ignoredFederated: string[] = [];
  for (const [key, der] of federated) {
    let td: TrustDomain;
    try {
      td = TrustDomain.parse(key);
    } catch (e) {
      throw new HelperError('x509bundle', `x509bundle: federated bundle key ${JSON.stringify(key)} is not a trust domain: ${(e as Error).message}`);
    }
    const bundle = bundleOf(td, der);
    ignoredFederated.push(...bundle.notCas.map((why) => `${td.name}: ${why}`));
    if (bundle.certificates.length > 0) federatedBundles.set(td.name, bundle);
    else emptyFederatedDomains.push(td.name);
  }
  cache?.prune();
  return { svids, bundles, federatedBundles, emptyFederatedDomains: emptyFederatedDomains.sort(), ignoredFederated: ignoredFederated.sort() };
}

/**
 * Bundle sizes are checked before any is parsed, from the DER headers (~1 µs a certificate;
 * parsing costs tens of µs each), so that an oversized message costs next to nothing.
 * The bundle SPIRE repeats with every SVID of a trust domain counts once.
 */
function checkBundleSizes(svids: X509SVIDResponseMessage['svids'], federated: [string, Uint8Array][]): void {
  const counted: Uint8Array[] = [];
  let total = 0;
  const tooLarge = (message: string): HelperError => new HelperError('x509bundle', `x509bundle: ${message}`, { reason: 'too_large' });
  const count = (what: string, der: Uint8Array): void => {
    const n = countDerElements(der, LIMITS.bundleCertificates);
    if (n > LIMITS.bundleCertificates) throw tooLarge(`${what} holds more than ${LIMITS.bundleCertificates} certificates`);
    total += n;
    if (total > LIMITS.messageBundleCertificates) throw tooLarge(`the bundles of the response hold more than ${LIMITS.messageBundleCertificates} certificates`);
  };
  for (const s of svids) {
    if (counted.some((c) => c.length === s.bundle.length && Buffer.from(c.buffer, c.byteOffset, c.length).equals(s.bundle))) continue;
    counted.push(s.bundle);
    count(`the bundle sent with ${JSON.stringify(s.spiffe_id)}`, s.bundle);
  }
  for (const [key, der] of federated) count(`federated bundle ${JSON.stringify(key)}`, der);
}

/**
 * Log lines about federated bundles (empty ones, certificates left out) when they change, not
 * on every message; returns what to pass as `before` next time ('' at first).
 */
export function logFederatedNotes(ctx: X509Context, before: string, log: Logger): string {
  const now = JSON.stringify([ctx.emptyFederatedDomains, ctx.ignoredFederated]);
  if (now === before) return now;
  if (ctx.emptyFederatedDomains.length > 0) {
    log.info('federated trust domains with an empty x509 bundle: nothing of theirs is trusted or written', { trust_domains: ctx.emptyFederatedDomains.join(',') });
  }
  for (const detail of ctx.ignoredFederated) log.warn('federated bundle certificate left out: it cannot be a trust anchor', { detail });
  return now;
}

/** The SVID the config asks for: the one with the hint, else the first (the default identity). */
export function selectSvid(ctx: X509Context, hint: string): X509Svid {
  if (hint === '') return ctx.svids[0]!;
  const svid = ctx.svids.find((s) => s.hint === hint);
  if (!svid) {
    const have = ctx.svids.map((s) => JSON.stringify(s.hint)).join(', ');
    throw new HelperError('x509svid', `x509svid: no SVID has hint ${JSON.stringify(hint)} (the agent sent hints: ${have})`, { reason: 'hint_not_sent' });
  }
  return svid;
}
