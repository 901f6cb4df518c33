import { parseX509Bundle, type X509Bundle } from './bundle.js';
import type { TrustDomain } from './id.js';

/**
 * The bundles of the previous FetchX509SVID message, by trust domain, so that a bundle whose
 * bytes did not change (the usual case: SVIDs rotate every few minutes, CAs rarely) is not
 * parsed again. Parsing is deterministic and its result immutable, so reusing it changes
 * nothing but the time: tens of µs per certificate, i.e. tens of ms for a 1,000-certificate
 * bundle on every rotation (docs/BENCHMARKS.md).
 */
export class BundleCache {
  private entries = new Map<string, { der: Buffer; bundle: X509Bundle }>();
  private seen = new Set<string>();

  parse(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
    const hit = this.entries.get(trustDomain.name);
    this.seen.add(trustDomain.name);
    if (hit && hit.der.equals(der)) return hit.bundle;
    const bundle = parseX509Bundle(trustDomain, der);
    this.entries.set(trustDomain.name, { der: Buffer.from(der), bundle });
    return bundle;
  }

  /** After a message was parsed whole: forget trust domains it did not mention. */
  prune(): void {
    for (const name of this.entries.keys()) if (!this.seen.has(name)) this.entries.delete(name);
    this.seen.clear();
  }
}
