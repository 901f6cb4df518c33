import type { X509Output } from './config.js';
import type { TopLevelReader } from './keys.js';
import { readStores } from './keystore-output.js';
import { checkFederatedPattern } from './trust-domain-pattern.js';

/**
 * The X.509 output keys: the three PEM file names go together, or none is set; with none, a
 * keystore or truststore alone is an X.509 output (what a JVM server reads).
 */
export function readX509(r: TopLevelReader, hint: string): X509Output | undefined {
  const svid = r.filePath('svid_file_name');
  const key = r.filePath('svid_key_file_name');
  const bundle = r.filePath('svid_bundle_file_name');
  const options = {
    addIntermediatesToBundle: r.bool('add_intermediates_to_bundle'),
    includeFederatedDomains: r.bool('include_federated_domains'),
    federatedBundleFileName: r.fileName('federated_bundle_file_name'),
    omitExpired: r.bool('omit_expired'),
    hint,
    layout: r.oneOf('file_layout'),
    certFileMode: r.mode('cert_file_mode'),
    keyFileMode: r.mode('key_file_mode'),
  };
  const stores = readStores(r);
  const given = [svid, key, bundle].filter((x) => x !== undefined).length;
  if (given === 0) {
    if (options.federatedBundleFileName) throw r.error('federated_bundle_file_name', 'needs svid_file_name, svid_key_file_name and svid_bundle_file_name');
    return stores && { ...options, stores };
  }
  if (given !== 3) {
    const missing = (['svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'] as const).find((_, i) => [svid, key, bundle][i] === undefined)!;
    throw r.error(missing, 'is required when any of svid_file_name, svid_key_file_name and svid_bundle_file_name is set');
  }
  checkFederatedPattern(r, options.federatedBundleFileName);
  if (options.layout === 'atomic_dir') {
    // One `..data` switch covers one directory: the set must live in it.
    const path = (['svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'] as const).find((k, i) => [svid, key, bundle][i]!.includes('/'));
    if (path)
      throw r.error(
        path,
        `is a path (${JSON.stringify([svid, key, bundle][['svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'].indexOf(path)])}); file_layout = "atomic_dir" switches one directory at once, so its files must be plain names in cert_dir`,
      );
  }
  if (bundle === svid || bundle === key) throw r.error('svid_bundle_file_name', 'must differ from svid_file_name and svid_key_file_name');
  return { svidFileName: svid!, keyFileName: key!, bundleFileName: bundle!, ...options, ...(stores ? { stores } : {}) };
}
