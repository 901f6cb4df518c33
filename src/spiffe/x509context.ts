/**
 * The X.509 context: what one FetchX509SVID message holds, validated as a whole. Pure: the
 * Workload API client hands the message's parts in, already out of their protobuf form.
 */
import { HelperError } from '../errors.js';
import type { BundleCache } from './bundle-cache.js';
import { parseX509Bundle, requireOnlyCas, type X509Bundle } from './bundle.js';
import { verifyChain } from './chain.js';
import { countDerElements, TooManyElements, withElementBudget } from './der.js';
import { TrustDomain } from './id.js';
import { LIMITS } from './limits.js';
import { parseX509Svid, type RawX509Svid, type X509Svid } from './x509svid.js';

/**
 * One X.509 context, validated as a whole: the SVIDs, each chained and verified to
 * its own trust domain's bundle, and the federated bundles. Every message is the complete
 * current state, so a single bad part rejects the message and the last good state stays in
 * force.
 */
export interface X509Context {
  /** Non-empty; hints are unique (a later duplicate is dropped, as go-spiffe does). */
  readonly svids: readonly X509Svid[];
  /** Bundles of the SVIDs' own trust domains, by trust domain name (the first sent, when SVIDs of a domain came with different ones). */
  readonly bundles: ReadonlyMap<string, X509Bundle>;
  /**
   * The bundle each SVID was verified against, where it is not its domain's entry in
   * `bundles` (SPIRE sends one bundle per domain; a message may not). Read it with svidBundle().
   */
  readonly otherSvidBundles?: ReadonlyMap<X509Svid, X509Bundle>;
  /** Federated bundles that hold CAs, by trust domain name. */
  readonly federatedBundles: ReadonlyMap<string, X509Bundle>;
  /**
   * Federated trust domains whose X.509 bundle is empty (sorted): nothing of theirs is
   * trusted, so they are in no file (SPIRE sends this for a domain with only JWT authorities).
   */
  readonly emptyFederatedDomains: readonly string[];
  /**
   * What of the federated bundles was left out, and why: certificates that cannot be a trust
   * anchor, and a bundle keyed by an SVID's own trust domain. A partner's faulty bundle must
   * not stop the workload's own rotation: its CAs are kept, the rest said.
   */
  readonly ignoredFederated: readonly string[];
}

/** The parts of a context as the agent sends them: each SVID with its trust domain's bundle (DER). */
export interface RawX509Context {
  svids: readonly (RawX509Svid & { bundleDer: Uint8Array })[];
  /** DER bundles by trust domain name. */
  federatedBundles: readonly [string, Uint8Array][];
}

/** `cache`: reuse the bundles of the previous message where their bytes are unchanged (daemon mode). */
export function validateX509Context(raw: RawX509Context, now: Date = new Date(), cache?: BundleCache): X509Context {
  try {
    return withElementBudget(LIMITS.messageDerElements, () => validate(raw, now, cache));
  } catch (e) {
    if (e instanceof TooManyElements) throw new HelperError('x509svid', `x509svid: the response holds ${e.message}`, { reason: 'too_large' });
    throw e;
  }
}

function validate(raw: RawX509Context, now: Date, cache?: BundleCache): X509Context {
  const bundleOf = (td: TrustDomain, der: Uint8Array, cached = true): X509Bundle => (cache && cached ? cache.parse(td, der) : parseX509Bundle(td, der));
  const svidCount = raw.svids.length;
  if (svidCount === 0) throw new HelperError('x509svid', 'x509svid: the response holds no SVIDs');
  if (svidCount > LIMITS.svids) throw new HelperError('x509svid', `x509svid: the response holds ${svidCount} SVIDs, more than ${LIMITS.svids}`, { reason: 'too_large' });
  const federated = raw.federatedBundles;
  if (federated.length > LIMITS.federatedBundles) {
    throw new HelperError('x509bundle', `x509bundle: the response holds ${federated.length} federated bundles, more than ${LIMITS.federatedBundles}`, { reason: 'too_large' });
  }
  checkBundleSizes(raw.svids, federated);
  const svids: X509Svid[] = [];
  const bundles = new Map<string, X509Bundle>();
  const bundleBytes = new Map<string, Buffer>();
  const hints = new Set<string>();
  const otherSvidBundles = new Map<X509Svid, X509Bundle>();
  for (const sent of raw.svids) {
    if (sent.hint !== '' && hints.has(sent.hint)) continue;
    hints.add(sent.hint);
    const svid = parseX509Svid(sent, now);
    const td = svid.id.trustDomain;
    // SPIRE sends the same bundle with every SVID of a trust domain; the first one is kept,
    // and an SVID that came with other bytes is verified against what came with it.
    const first = bundles.get(td.name);
    const bundle = first && Buffer.from(sent.bundleDer).equals(bundleBytes.get(td.name)!) ? first : bundleOf(td, sent.bundleDer, !first);
    requireOnlyCas(bundle);
    if (bundle.certificates.length === 0) {
      throw new HelperError('x509bundle', `x509bundle: the bundle of ${svid.id}'s own trust domain "${td.name}" is empty`, { reason: 'bundle_missing' });
    }
    if (!first) {
      bundles.set(td.name, bundle);
      bundleBytes.set(td.name, Buffer.from(sent.bundleDer));
    }
    const verdict = verifyChain(svid.certificates, bundle.certificates, now);
    if (!verdict.ok) {
      throw new HelperError('x509svid', `x509svid ${svid.id}: the chain does not verify against the bundle of "${td.name}": ${verdict.detail}`, { reason: verdict.reason });
    }
    svids.push(svid);
    if (first && bundle !== first) otherSvidBundles.set(svid, bundle);
  }
  const federatedBundles = new Map<string, X509Bundle>();
  const emptyFederatedDomains: string[] = [];
  const ignoredFederated: string[] = [];
  const keyOf = new Map<string, string>();
  for (const [key, der] of federated) {
    let td: TrustDomain;
    try {
      td = TrustDomain.parse(key);
    } catch (e) {
      throw new HelperError('x509bundle', `x509bundle: federated bundle key ${JSON.stringify(key)} is not a trust domain: ${(e as Error).message}`);
    }
    // `partner.org` and `spiffe://partner.org` are one domain: which bundle holds would be up to map order.
    const twin = keyOf.get(td.name);
    if (twin !== undefined) throw new HelperError('x509bundle', `x509bundle: trust domain "${td.name}" has two federated bundles (keys ${JSON.stringify(twin)} and ${JSON.stringify(key)})`);
    keyOf.set(td.name, key);
    if (bundles.has(td.name)) {
      // Not a federated domain: the SVIDs' own bundle came with them, and it alone is theirs.
      ignoredFederated.push(`${td.name}: a federated bundle for the SVIDs' own trust domain is ignored; the bundle sent with the SVIDs is used`);
      continue;
    }
    const bundle = bundleOf(td, der);
    ignoredFederated.push(...bundle.notCas.map((why) => `${td.name}: ${why.detail}`));
    if (bundle.certificates.length > 0) federatedBundles.set(td.name, bundle);
    else emptyFederatedDomains.push(td.name);
  }
  cache?.prune();
  return {
    svids,
    bundles,
    ...(otherSvidBundles.size > 0 ? { otherSvidBundles } : {}),
    federatedBundles,
    emptyFederatedDomains: emptyFederatedDomains.sort(),
    ignoredFederated: ignoredFederated.sort(),
  };
}

/** The bundle `svid` was verified against: what must be written beside it. */
export function svidBundle(ctx: X509Context, svid: X509Svid): X509Bundle | undefined {
  return ctx.otherSvidBundles?.get(svid) ?? ctx.bundles.get(svid.id.trustDomain.name);
}

/**
 * Bundle sizes are checked before any is parsed, from the DER headers (~1 µs a certificate;
 * parsing costs tens of µs each), so that an oversized message costs next to nothing.
 * The bundle SPIRE repeats with every SVID of a trust domain counts once.
 */
function checkBundleSizes(svids: RawX509Context['svids'], federated: RawX509Context['federatedBundles']): void {
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
    if (counted.some((c) => c.length === s.bundleDer.length && Buffer.from(c.buffer, c.byteOffset, c.length).equals(s.bundleDer))) continue;
    counted.push(s.bundleDer);
    count(`the bundle sent with ${JSON.stringify(s.spiffeId)}`, s.bundleDer);
  }
  for (const [key, der] of federated) count(`federated bundle ${JSON.stringify(key)}`, der);
}
