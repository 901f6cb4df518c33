import { HelperError } from '../errors.js';
import { parseX509Bundle, type X509Bundle } from '../spiffe/bundle.js';
import { TrustDomain } from '../spiffe/id.js';
import type { BundleCache } from './bundle-cache.js';
import { parseX509Svid, type X509Svid } from '../spiffe/x509svid.js';
import type { X509SVIDResponseMessage } from './proto.js';

/**
 * One FetchX509SVID message, validated as a whole: the SVIDs, each SVID's own trust domain
 * bundle, and the federated bundles. Every message is the complete current state, so a
 * single bad part rejects the message and the last good state stays in force.
 */
export interface X509Context {
  /** Non-empty; hints are unique (a later duplicate is dropped, as go-spiffe does). */
  readonly svids: readonly X509Svid[];
  /** Bundles of the SVIDs' own trust domains, by trust domain name. */
  readonly bundles: ReadonlyMap<string, X509Bundle>;
  /** Federated bundles, by trust domain name. */
  readonly federatedBundles: ReadonlyMap<string, X509Bundle>;
}

/** `cache`: reuse the bundles of the previous message where their bytes are unchanged (daemon mode). */
export function parseX509Context(msg: X509SVIDResponseMessage, now: Date = new Date(), cache?: BundleCache): X509Context {
  const bundleOf = (td: TrustDomain, der: Uint8Array): X509Bundle => (cache ? cache.parse(td, der) : parseX509Bundle(td, der));
  if (!msg.svids || msg.svids.length === 0) {
    throw new HelperError('x509svid', 'x509svid: the response holds no SVIDs');
  }
  const svids: X509Svid[] = [];
  const bundles = new Map<string, X509Bundle>();
  const hints = new Set<string>();
  for (const raw of msg.svids) {
    if (raw.hint !== '' && hints.has(raw.hint)) continue;
    hints.add(raw.hint);
    const svid = parseX509Svid(
      { spiffeId: raw.spiffe_id, chainDer: raw.x509_svid, keyDer: raw.x509_svid_key, hint: raw.hint },
      now,
    );
    svids.push(svid);
    const td = svid.id.trustDomain;
    if (!bundles.has(td.name)) bundles.set(td.name, bundleOf(td, raw.bundle));
  }
  const federatedBundles = new Map<string, X509Bundle>();
  for (const [key, der] of Object.entries(msg.federated_bundles ?? {})) {
    let td: TrustDomain;
    try {
      td = TrustDomain.parse(key);
    } catch (e) {
      throw new HelperError('x509bundle', `x509bundle: federated bundle key ${JSON.stringify(key)} is not a trust domain: ${(e as Error).message}`);
    }
    federatedBundles.set(td.name, bundleOf(td, der));
  }
  cache?.prune();
  return { svids, bundles, federatedBundles };
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
