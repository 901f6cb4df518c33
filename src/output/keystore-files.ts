import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { X509Output } from '../config/config.js';
import type { StoreOutputs } from '../config/keystore-output.js';
import { HelperError } from '../errors.js';
import { encodeKeystore, encodeTruststore, trustDomainCertificates, type Pkcs12Format, type TrustedCertificate } from '../keystore/pkcs12.js';
import type { Certificate } from '../spiffe/certificate.js';
import type { X509Svid } from '../spiffe/x509svid.js';
import { svidBundle, type X509Context } from '../spiffe/x509context.js';
import type { FileContent } from './atomic-write.js';
import type { X509Render } from './x509-files.js';

/**
 * The PKCS#12 keystore and truststore as files of the X.509 set: written, skipped when
 * unchanged, swapped in atomic_dir, and reported with the PEM files. Imported only when a store
 * is configured (x509-writer.ts), so other configs never load the encoder.
 *
 * The encoder derives its salts and IVs from the password and the content, so the same
 * identity gives the same bytes and the writer's byte comparison skips an identical update. The
 * last rendering is kept by its inputs as well: an agent re-sending its state costs a hash, not
 * the ~80 ms of CPU two encodings take (docs/keystores.md).
 */
const FORMAT: Record<StoreOutputs['format'], Pkcs12Format> = { pkcs12: 'aes256-sha256', 'pkcs12-legacy': 'legacy-3des-sha1' };

export function storeRenderer(stores: StoreOutputs, out: X509Output, certDir: string): X509Render {
  const format = FORMAT[stores.format];
  let last: { inputs: string; files: FileContent[] } | undefined;
  return (svid, ctx, now) => {
    const trusted = stores.truststore ? trustedCertificates(svid, ctx, out.omitExpired, stores.truststore.includeFederatedDomains, now) : [];
    const inputs = fingerprint(svid, trusted);
    if (last?.inputs === inputs) return last.files;
    const files: FileContent[] = [];
    if (stores.keystore) {
      const { fileName, alias, password } = stores.keystore;
      const entry = { alias, keyDer: svid.keyDer, chainDer: svid.certificates.map((c) => c.raw) };
      files.push({ path: join(certDir, fileName), data: encodeKeystore(entry, { password: password.reveal(), format }), mode: out.keyFileMode });
    }
    if (stores.truststore) {
      const { fileName, password } = stores.truststore;
      // A truststore with no CA would make every peer untrusted: refused like a bad bundle, the last good files stay.
      if (trusted.length === 0)
        throw new HelperError('x509bundle', `truststore ${fileName}: no CA certificate to trust in the update${out.omitExpired ? ' (omit_expired left none)' : ''}`, { reason: 'truststore_empty' });
      files.push({ path: join(certDir, fileName), data: encodeTruststore(trusted, { password: password.reveal(), format }), mode: out.certFileMode });
    }
    last = { inputs, files };
    return files;
  };
}

/** The trust domain's CAs, then each federated domain's in name order: aliases `<trust domain>-<n>`. */
function trustedCertificates(svid: X509Svid, ctx: X509Context, omitExpired: boolean, federated: boolean, now: Date): TrustedCertificate[] {
  const keep = (certs: readonly Certificate[]): Buffer[] => certs.filter((c) => !omitExpired || c.notAfter.getTime() > now.getTime()).map((c) => c.raw);
  const own = svid.id.trustDomain.name;
  const domains = [own, ...(federated ? [...ctx.federatedBundles.keys()].filter((td) => td !== own).sort() : [])];
  return domains.flatMap((td) => trustDomainCertificates(td, keep((td === own ? svidBundle(ctx, svid) : ctx.federatedBundles.get(td))?.certificates ?? [])));
}

/** Everything a rendering depends on besides the fixed settings (passwords, alias, format). */
function fingerprint(svid: X509Svid, trusted: readonly TrustedCertificate[]): string {
  const h = createHash('sha256');
  const part = (b: Buffer | string): void => void h.update(`${Buffer.byteLength(b)}:`).update(b);
  part(svid.keyDer);
  for (const c of svid.certificates) part(c.raw);
  part('trusted');
  for (const t of trusted) {
    part(t.alias);
    part(t.certDer);
  }
  return h.digest('hex');
}
