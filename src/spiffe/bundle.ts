import { X509Certificate } from 'node:crypto';
import { HelperError } from '../errors.js';
import { splitDerSequence } from './der.js';
import { TrustDomain } from './id.js';

/** The X.509 CA certificates a trust domain vouches with (SPIFFE_Trust_Domain_and_Bundle.md). */
export interface X509Bundle {
  readonly trustDomain: TrustDomain;
  readonly certificates: readonly X509Certificate[];
}

/** Parses concatenated DER certificates; `what` names the bundle in errors. */
export function parseCertificates(der: Uint8Array, what: string, code: 'x509svid' | 'x509bundle'): X509Certificate[] {
  let parts: Buffer[];
  try {
    parts = splitDerSequence(der);
  } catch (e) {
    throw new HelperError(code, `${what}: not a sequence of DER certificates (${(e as Error).message})`);
  }
  return parts.map((part, i) => {
    try {
      return new X509Certificate(part);
    } catch (e) {
      throw new HelperError(code, `${what}: certificate ${i + 1} cannot be parsed (${(e as Error).message})`);
    }
  });
}

export function parseX509Bundle(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
  const what = `x509bundle: bundle of trust domain "${trustDomain.name}"`;
  const certificates = parseCertificates(der, what, 'x509bundle');
  if (certificates.length === 0) throw new HelperError('x509bundle', `${what} is empty`);
  return { trustDomain, certificates };
}

/** Same content, certificate by certificate: used to skip rewrites on identical updates. */
export function sameCertificates(a: readonly X509Certificate[], b: readonly X509Certificate[]): boolean {
  return a.length === b.length && a.every((c, i) => c.raw.equals(b[i]!.raw));
}
