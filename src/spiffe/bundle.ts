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
  /** The CAs: everything in a bundle file is a trust anchor to whoever reads it. */
  readonly certificates: readonly Certificate[];
  /** Certificates that cannot be a CA, and why (`certificate 2: it is not a CA ...`); not in `certificates`. */
  readonly notCas: readonly string[];
}

export function parseX509Bundle(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
  const what = `x509bundle: bundle of trust domain "${trustDomain.name}"`;
  const certificates: Certificate[] = [];
  const notCas: string[] = [];
  parseCertificates(der, what, 'x509bundle', LIMITS.bundleCertificates).forEach((cert, i) => {
    const why = authorityProblem(cert);
    if (why) notCas.push(`certificate ${i + 1} cannot be a trust anchor: ${why}`);
    else certificates.push(cert);
  });
  return { trustDomain, certificates, notCas };
}

/** An SVID's own bundle must hold CAs only: anything else there is an agent fault to refuse. */
export function requireOnlyCas(bundle: X509Bundle): void {
  if (bundle.notCas.length > 0) {
    throw new HelperError('x509bundle', `x509bundle: bundle of trust domain "${bundle.trustDomain.name}": ${bundle.notCas[0]}`, { reason: 'bundle_not_ca' });
  }
}
