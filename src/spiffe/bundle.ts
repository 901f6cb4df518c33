import { HelperError } from '../errors.js';
import { parseCertificates, type Certificate } from './certificate.js';
import type { TrustDomain } from './id.js';

/** The X.509 CA certificates a trust domain vouches with (SPIFFE_Trust_Domain_and_Bundle.md). */
export interface X509Bundle {
  readonly trustDomain: TrustDomain;
  readonly certificates: readonly Certificate[];
}

export function parseX509Bundle(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
  const what = `x509bundle: bundle of trust domain "${trustDomain.name}"`;
  const certificates = parseCertificates(der, what, 'x509bundle');
  if (certificates.length === 0) throw new HelperError('x509bundle', `${what} is empty`);
  return { trustDomain, certificates };
}
