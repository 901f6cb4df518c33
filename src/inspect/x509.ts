import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { describeError, HelperError } from '../errors.js';
import { parseCertificates, type Certificate } from '../spiffe/certificate.js';
import { anchorProblem } from '../spiffe/bundle.js';
import { verifyChain, type ChainVerdict } from '../spiffe/chain.js';
import { SpiffeId, TrustDomain } from '../spiffe/id.js';
import { fromPem } from '../spiffe/pem.js';
import { federatedFiles, readText } from './files.js';
import type { ChainReport, InspectReport, Targets, X509Report } from './document.js';

/**
 * The X.509 side of inspect: the SVID, its key and the bundles. Unlike spiffe/x509svid.ts,
 * which refuses a bad SVID, this reads as much as it can so that every problem gets listed.
 */
export async function inspectX509(t: NonNullable<Targets['x509']>, certDir: string, report: InspectReport, now: Date): Promise<void> {
  const problem = (m: string): void => void report.problems.push(m);
  const svidText = await readText(t.svid, problem);
  const bundleText = await readText(t.bundle, problem);
  const keyText = t.key === t.svid ? svidText : await readText(t.key, problem);

  const anchors = bundleText === undefined ? undefined : readBundle(t.bundle, bundleText, report, now);
  if (t.federatedPattern) {
    for (const file of await federatedFiles(certDir, t.federatedPattern)) {
      const text = await readText(file, problem);
      if (text !== undefined) readBundle(file, text, report, now);
    }
  }
  if (svidText === undefined) return;
  let parsed: Certificate[];
  try {
    parsed = certificatesIn(svidText, t.svid);
  } catch (e) {
    return problem(describeError(e));
  }
  const chain = parsed.map((c) => new X509Certificate(c.raw));
  const leaf = chain[0]!;
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  const secondsLeft = Math.round((notAfter.getTime() - now.getTime()) / 1000);
  const x: X509Report = {
    file: t.svid,
    key_file: t.key,
    serial: leaf.serialNumber,
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    not_before: notBefore.toISOString(),
    not_after: notAfter.toISOString(),
    seconds_left: secondsLeft,
    expired: secondsLeft <= 0,
    intermediates: chain.length - 1,
    key_matches: null,
    chain: { verified: false, detail: 'not checked: no readable bundle' },
  };
  report.x509_svid = x;
  const uris = spiffeUris(parsed[0]!);
  if (uris.length !== 1) problem(`${t.svid}: the certificate has ${uris.length} SPIFFE URI SANs; an X.509-SVID has exactly one`);
  else {
    try {
      x.spiffe_id = SpiffeId.parse(uris[0]!).toString();
    } catch (e) {
      problem(`${t.svid}: the URI SAN is not a valid SPIFFE ID: ${(e as Error).message}`);
    }
  }
  if (x.expired) problem(`${t.svid}: the certificate expired at ${x.not_after}`);
  if (notBefore.getTime() > now.getTime()) problem(`${t.svid}: the certificate is not valid before ${x.not_before}`);

  if (keyText !== undefined) {
    const key = privateKeyIn(keyText, t.key, problem);
    if (key) {
      x.key_matches = leaf.checkPrivateKey(key);
      if (!x.key_matches) problem(`${t.key}: the private key does not match the certificate in ${t.svid}`);
    }
  }
  if (anchors) {
    // The very check that refuses an agent's update before it is written (spiffe/chain.ts).
    const verdict = verifyChain(parsed, anchors, now);
    x.chain = chainReport(verdict);
    if (!verdict.ok) problem(`${t.svid}: the chain does not verify against ${t.bundle}: ${verdict.detail} [${verdict.reason}]`);
    const td = x.spiffe_id && SpiffeId.parse(x.spiffe_id).trustDomain.name;
    const bundleTds = anchors.map(trustDomainOf).filter((d) => d !== undefined);
    if (td && bundleTds.length > 0 && !bundleTds.includes(td)) {
      report.warnings.push(`${t.bundle}: no CA names the SVID's trust domain "${td}" (its CAs name ${[...new Set(bundleTds)].join(', ')})`);
    }
  }
}

/** A verdict as the report words it: the path from the leaf, or why there is none. */
export function chainReport(verdict: ChainVerdict): ChainReport {
  return verdict.ok
    ? { verified: true, detail: verdict.path.map((c, i) => (i === 0 ? 'leaf' : oneLine(new X509Certificate(c.raw).subject))).join(' <- ') }
    : { verified: false, detail: verdict.detail };
}

/** Parses a bundle file into the report; returns its certificates (the trust anchors). */
function readBundle(file: string, text: string, report: InspectReport, now: Date): Certificate[] | undefined {
  let cas: Certificate[];
  try {
    cas = certificatesIn(text, file);
  } catch (e) {
    report.problems.push(describeError(e));
    return undefined;
  }
  const trustDomains: Record<string, number> = {};
  let expired = 0;
  cas.forEach((ca, i) => {
    const td = trustDomainOf(ca) ?? '(none)';
    trustDomains[td] = (trustDomains[td] ?? 0) + 1;
    if (ca.notAfter.getTime() <= now.getTime()) expired++;
    const notCa = anchorProblem(ca);
    if (notCa) report.problems.push(`${file}: certificate ${i + 1} cannot be a trust anchor: ${notCa.detail} [${notCa.reason}]`);
  });
  report.bundles.push({ file, certificates: cas.length, trust_domains: trustDomains, expired });
  if (expired > 0) report.warnings.push(`${file}: ${expired} of ${cas.length} CA certificates have expired (omit_expired = true leaves them out)`);
  return cas;
}

function certificatesIn(text: string, file: string): Certificate[] {
  const der = fromPem(text, 'CERTIFICATE');
  if (der.length === 0) throw new HelperError('x509svid', `${file}: no PEM CERTIFICATE block`);
  return parseCertificates(Buffer.concat(der), file, 'x509svid');
}

/**
 * The first PEM private key of any kind (PKCS#8, or the EC/RSA forms other tools write).
 * Not fromPem: that reads one label, and a file written by another tool may use any of them.
 */
function privateKeyIn(text: string, file: string, problem: (m: string) => void): KeyObject | undefined {
  const block = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/.exec(text);
  if (!block) {
    problem(`${file}: no PEM private key block`);
    return undefined;
  }
  try {
    return createPrivateKey(block[0]);
  } catch (e) {
    problem(`${file}: the private key cannot be read (${(e as Error).message})`);
    return undefined;
  }
}

export function spiffeUris(cert: Certificate): string[] {
  return cert.extensions.uris.filter((u) => u.startsWith('spiffe://'));
}

/** The trust domain a CA names in its SPIFFE URI SAN (`spiffe://example.org`), if any. */
export function trustDomainOf(cert: Certificate): string | undefined {
  for (const uri of spiffeUris(cert)) {
    try {
      return TrustDomain.parse(uri).name;
    } catch {
      // not a usable SPIFFE ID: as if absent
    }
  }
  return undefined;
}

/** Distinguished names come with one attribute per line. */
export function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}
