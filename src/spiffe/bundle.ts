import { HelperError } from '../errors.js';
import { parseCertificates, type Certificate } from './certificate.js';
import { authorityProblem } from './chain.js';
import type { TrustDomain } from './id.js';
import { LIMITS } from './limits.js';

/**
 * The X.509 CA certificates a trust domain vouches with (SPIFFE_Trust_Domain_and_Bundle.md).
 * May be empty: that means "trust nothing from this domain" (what SPIRE sends for a federated
 * domain that has only JWT authorities); whether an empty bundle is acceptable is for the
 * caller to say (an SVID's own bundle must not be).
 */
export interface X509Bundle {
  readonly trustDomain: TrustDomain;
  readonly certificates: readonly Certificate[];
}

export function parseX509Bundle(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
  const what = `x509bundle: bundle of trust domain "${trustDomain.name}"`;
  const certificates = parseCertificates(der, what, 'x509bundle', LIMITS.bundleCertificates);
  certificates.forEach((cert, i) => {
    // Everything in bundle.pem is a trust anchor to whoever reads it.
    const notCa = authorityProblem(cert);
    if (notCa) throw new HelperError('x509bundle', `${what}: certificate ${i + 1} cannot be a trust anchor: ${notCa}`, { reason: 'bundle_not_ca' });
  });
  return { trustDomain, certificates };
}
