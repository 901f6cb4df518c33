/**
 * File name patterns with a `{trust_domain}` placeholder: one file per trust domain
 * (federated_bundle_file_name, jwt_bundle_file_name with jwt_bundle_format = "jwks").
 * Such files are found again, to read or to delete as stale, by the pattern's prefix and suffix.
 */
export const TRUST_DOMAIN_PLACEHOLDER = '{trust_domain}';

/** The trust domain that `name` stands for under `pattern`, or undefined when it does not match. */
export function trustDomainInFileName(name: string, pattern: string): string | undefined {
  const [prefix, suffix] = pattern.split(TRUST_DOMAIN_PLACEHOLDER) as [string, string];
  if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length <= prefix.length + suffix.length) return undefined;
  return name.slice(prefix.length, name.length - suffix.length);
}
