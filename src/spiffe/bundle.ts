import { HelperError } from '../errors.js';
import { publicKeyProblem } from './algorithms.js';
import { parseCertificate, splitCertificates, unparsable, type Certificate } from './certificate.js';
import { authorityProblem, type ChainReason } from './chain.js';
import { TooManyElements } from './der.js';
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
  /** Certificates that cannot be a trust anchor, and why (`certificate 2 cannot be a trust anchor: ...`); not in `certificates`. */
  readonly notCas: readonly AnchorProblem[];
}

export interface AnchorProblem {
  /** `x509bundle`: the certificate does not parse. */
  readonly reason: ChainReason | 'bundle_not_ca' | 'x509bundle';
  readonly detail: string;
}

/**
 * Why a certificate cannot be a trust anchor: not a CA, or a key no verifier of the files
 * (Go's crypto/x509) accepts, which makes Go refuse the whole bundle file for some (curves it
 * cannot parse). Shared with `inspect`.
 */
export function anchorProblem(cert: Certificate): AnchorProblem | undefined {
  const notCa = authorityProblem(cert);
  if (notCa) return { reason: 'bundle_not_ca', detail: notCa };
  const badKey = publicKeyProblem(cert.publicKey);
  return badKey ? { reason: 'unsupported_algorithm', detail: badKey } : undefined;
}

export function parseX509Bundle(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
  const what = `x509bundle: bundle of trust domain "${trustDomain.name}"`;
  const certificates: Certificate[] = [];
  const notCas: AnchorProblem[] = [];
  // A certificate that does not parse is one more that cannot be a trust anchor: the SVID's own
  // bundle is refused for it (requireOnlyCas), a partner's loses it alone. Go's parser is more
  // lenient than ours in places (test/helpers/der-cases.ts), and a partner's CA that SPIRE
  // accepted must not stop the workload's own rotation.
  splitCertificates(der, what, 'x509bundle', LIMITS.bundleCertificates).forEach((part, i) => {
    let cert: Certificate;
    try {
      cert = parseCertificate(part);
    } catch (e) {
      if (e instanceof TooManyElements) throw e;
      notCas.push({ reason: 'x509bundle', detail: unparsable(i, e) });
      return;
    }
    const why = anchorProblem(cert);
    if (why) notCas.push({ reason: why.reason, detail: `certificate ${i + 1} cannot be a trust anchor: ${why.detail}` });
    else certificates.push(cert);
  });
  return { trustDomain, certificates, notCas };
}

/** An SVID's own bundle must hold usable CAs only: anything else there is an agent fault to refuse. */
export function requireOnlyCas(bundle: X509Bundle): void {
  const first = bundle.notCas[0];
  if (first) throw new HelperError('x509bundle', `x509bundle: bundle of trust domain "${bundle.trustDomain.name}": ${first.detail}`, { reason: first.reason });
}
