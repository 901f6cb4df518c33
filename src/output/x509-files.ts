import type { X509Output } from '../config/config.js';
import { perDomainFiles } from '../config/trust-domain-pattern.js';
import type { X509Bundle } from '../spiffe/bundle.js';
import type { Certificate } from '../spiffe/certificate.js';
import { toPem } from '../spiffe/pem.js';
import { svidBundle, type X509Context } from '../spiffe/x509context.js';
import type { X509Svid } from '../spiffe/x509svid.js';
import type { FileContent } from './atomic-write.js';
import { outputPath } from './names.js';

/** More files made from the same update (the PKCS#12 stores): pure, written with the PEM files as one set. */
export type X509Render = (svid: X509Svid, ctx: X509Context, now: Date) => FileContent[];

/**
 * What the Go spiffe-helper writes for an X.509 context, as file contents (pure: no I/O),
 * so that an unchanged state can be recognised and skipped before anything touches the disk.
 */
export function renderX509Files(svid: X509Svid, ctx: X509Context, out: X509Output, certDir: string, now: Date): FileContent[] {
  // Only the PKCS#12 stores (a renderer of their own) are configured.
  if (out.svidFileName === undefined) return [];
  const path = (name: string): string => outputPath(certDir, name);
  const [leaf, ...intermediates] = svid.certificates;
  const keep = (certs: readonly Certificate[]): Certificate[] => (out.omitExpired ? certs.filter((c) => c.notAfter.getTime() > now.getTime()) : [...certs]);

  // As in the Go helper, omit_expired filters every certificate written, the SVID's own
  // intermediates too (the leaf is never expired here: validation refuses an expired SVID).
  const chain = out.addIntermediatesToBundle ? [leaf!] : [leaf!, ...keep(intermediates)];
  const own = svidBundle(ctx, svid);
  const bundle = [...keep(own?.certificates ?? []), ...(out.addIntermediatesToBundle ? keep(intermediates) : [])];
  if (out.includeFederatedDomains) {
    for (const b of sortedFederated(ctx)) bundle.push(...keep(b.certificates));
  }

  const chainPem = pemCerts(chain);
  const keyPem = toPem('PRIVATE KEY', svid.keyDer);
  const files: FileContent[] = [];
  if (out.svidFileName === out.keyFileName) {
    // One file holding key and chain (what some servers, e.g. HAProxy, want); it holds a key.
    files.push({ path: path(out.svidFileName), data: keyPem + chainPem, mode: out.keyFileMode });
  } else {
    files.push({ path: path(out.svidFileName), data: chainPem, mode: out.certFileMode });
    files.push({ path: path(out.keyFileName), data: keyPem, mode: out.keyFileMode });
  }
  files.push({ path: path(out.bundleFileName), data: pemCerts(bundle), mode: out.certFileMode });
  if (out.federatedBundleFileName) {
    for (const [td, name] of federatedFiles(ctx, out.federatedBundleFileName).named) {
      files.push({ path: path(name), data: pemCerts(keep(ctx.federatedBundles.get(td)!.certificates)), mode: out.certFileMode });
    }
  }
  return files;
}

/** The federated trust domains with a per-domain file under `pattern`, and why the others have none. */
export function federatedFiles(ctx: X509Context, pattern: string): ReturnType<typeof perDomainFiles> {
  return perDomainFiles(
    pattern,
    sortedFederated(ctx).map((b) => b.trustDomain.name),
  );
}

function sortedFederated(ctx: X509Context): X509Bundle[] {
  return [...ctx.federatedBundles.values()].sort((a, b) => a.trustDomain.name.localeCompare(b.trustDomain.name));
}

function pemCerts(certs: readonly Certificate[]): string {
  return certs.map((c) => toPem('CERTIFICATE', c.raw)).join('');
}
